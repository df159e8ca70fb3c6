"""The ``noc`` contention keys of chip files: defaults, presets and precise errors."""

import copy
import importlib.resources as r

import numpy as np
import pytest
import yaml

from aersim.hardware import ChipSpecError, chip_from_dict, load_chip
from aersim.hardware.noc import multicast_trees, routing_table_entries


def minimal_dict():
    return yaml.safe_load((r.files("aersim.hardware") / "presets" / "minimal.yaml").read_text())


def test_presets_keep_zero_load_and_carry_contention_figures():
    loihi = load_chip("loihi_like").noc
    assert not loihi.contention and loihi.routing == "unicast"
    assert (loihi.cycle_ps, loihi.flit_bits, loihi.buffer_flits, loihi.flits) == (1000, 32, 16, 1)
    spin = load_chip("spinnaker2_like").noc
    assert not spin.contention
    assert (spin.routing, spin.routing_table_entries, spin.packet_bits, spin.flits) == \
        ("multicast", 16384, 40, 2)


def test_defaults_without_contention_keys():
    d = minimal_dict()
    for key in ("contention", "cycle_ns", "flit_bits", "buffer_flits", "routing"):
        d["noc"].pop(key, None)
    noc = chip_from_dict(d).noc
    assert (noc.contention, noc.routing, noc.flits, noc.routing_table_entries) == \
        (False, "unicast", 1, 0)


def test_bandwidth_is_the_inverse_cycle():
    d = minimal_dict()
    d["noc"].pop("cycle_ns")
    d["noc"].update(contention=True, link_bandwidth_flits_per_ns=0.5)
    chip = chip_from_dict(d)
    assert chip.noc.cycle_ps == 2000
    assert "contention: 1 flit(s)/packet, 2 ns/flit/link" in chip.summary()


@pytest.mark.parametrize("change,message", [
    (lambda n: n.update(contention="yes"), r"noc.contention = 'yes' is not valid; expected true "
                                           r"or false"),
    (lambda n: n.update(routing="broadcast"), r"noc.routing = 'broadcast' is not allowed; "
                                              r"expected one of \('unicast', 'multicast'\)"),
    (lambda n: n.update(buffer_flits=0), r"noc.buffer_flits = 0 is not allowed"),
    (lambda n: n.update(link_bandwidth_flits_per_ns=1.0), r"give noc.cycle_ns or "
                                                          r"noc.link_bandwidth_flits_per_ns"),
    (lambda n: n.update(contention=True, flit_bits=8, buffer_flits=2),
     r"noc.buffer_flits = 2 cannot hold one packet of 4 flits .* use buffer_flits >= 4"),
    (lambda n: (n.update(contention=True), n.pop("cycle_ns")),
     r"noc.contention is true but the link speed is missing"),
    (lambda n: (n.update(contention=True), n.pop("flit_bits")),
     r"noc.contention is true but noc.flit_bits is missing"),
    (lambda n: n.update(contention=True, router_latency_ns=0.0),
     r"noc.contention needs router_latency_ns and every hop_latency_ns > 0"),
    (lambda n: n.update(routing_table_entries=-3), r"noc.routing_table_entries = -3 is not "
                                                   r"allowed"),
])
def test_contention_errors_name_the_key(change, message):
    d = copy.deepcopy(minimal_dict())
    change(d["noc"])
    with pytest.raises(ChipSpecError, match=message):
        chip_from_dict(d, "chip.yaml")


def test_multicast_tree_and_table_entries():
    # 4x4 mesh, one core per tile: core 0 sends to cores 3, 12 and 15.
    ptr, tile, mask, arrive = multicast_trees(np.array([0, 3]), np.array([3, 12, 15]),
                                              np.array([0]), 1, 4, 4, False)
    assert tile.tolist() == [0, 1, 2, 3, 4, 7, 8, 11, 12, 15]
    # Source: east + south; tile 3: south + eject; 12 and 15: eject only.
    assert dict(zip(tile.tolist(), mask.tolist(), strict=True))[0] == 0b1001
    assert dict(zip(tile.tolist(), mask.tolist(), strict=True))[3] == 0b11000
    entries = routing_table_entries(ptr, tile, mask, arrive, np.array([0]), 16)
    assert np.flatnonzero(entries).tolist() == [0, 3, 12, 15]   # straight-through: default


def test_keys_of_one_core_share_an_entry_when_routes_agree():
    # Two neurons of core 0 with the same targets: one entry per router; a third neuron of
    # the same core with other targets forces exact-key entries where the routes differ.
    msg_ptr = np.array([0, 1, 2, 3])
    msg_core = np.array([3, 3, 12])
    src = np.array([0, 0, 0])
    ptr, tile, mask, arrive = multicast_trees(msg_ptr[:3], msg_core[:2], src[:2], 1, 4, 4, False)
    assert routing_table_entries(ptr, tile, mask, arrive, src[:2], 16).tolist() == \
        [1, 0, 0, 1] + [0] * 12
    ptr, tile, mask, arrive = multicast_trees(msg_ptr, msg_core, src, 1, 4, 4, False)
    entries = routing_table_entries(ptr, tile, mask, arrive, src, 16)
    assert entries[0] == 3 and entries[3] == 1 and entries[12] == 1
