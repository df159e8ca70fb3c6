"""XY routes on mesh and torus against a brute-force walk."""

import numpy as np

from aersim.hardware import chip_from_dict, load_chip
from aersim.hardware.noc import route_latency_ps, route_table, xy_hops


def walk(x0, y0, x1, y1, w, h, torus):
    """Step east/west then north/south; on a torus take the shorter way (ties: east/south)."""
    def way(a, b, n):
        fwd = (b - a) % n if torus else b - a
        if not torus:
            return (fwd, 0) if fwd >= 0 else (0, -fwd)
        back = (a - b) % n
        return (fwd, 0) if fwd <= back else (0, back)
    e, wst = way(x0, x1, w)
    s, n = way(y0, y1, h)
    return e, wst, n, s


def test_mesh_and_torus_match_brute_force():
    for torus in (False, True):
        for w, h in ((4, 4), (5, 3), (8, 4)):
            for x0 in range(w):
                for y0 in range(h):
                    for x1 in range(w):
                        for y1 in range(h):
                            got = xy_hops(x0, y0, x1, y1, w, h, torus)
                            assert tuple(got) == walk(x0, y0, x1, y1, w, h, torus)


def test_route_table_and_latency():
    chip = load_chip("loihi_like")
    table = route_table(chip)
    assert table.shape == (128, 128, 4)
    assert table[0, 3].tolist() == [0, 0, 0, 0]               # same tile: router only
    # core 0 on tile (0, 0) to core 127 on tile (7, 3): 7 east, 3 south.
    assert table[0, 127].tolist() == [7, 0, 0, 3]
    assert route_latency_ps(chip, table[0, 127]) == 2100 + 7 * 4100 + 3 * 6500
    assert np.array_equal(table.sum(axis=2), table.sum(axis=2).T)   # symmetric lengths


def test_torus_is_never_longer_than_mesh():
    d = load_chip("minimal")
    import dataclasses
    torus = dataclasses.replace(d, topology="torus")
    assert (route_table(torus).sum(axis=2) <= route_table(d).sum(axis=2)).all()
    assert chip_from_dict  # the public constructor exists for custom chips
