"""A build that would not fit in memory is refused before its tables are allocated."""

import pytest

from aersim.models import memory
from aersim.models.errors import NetworkError
from aersim.models.generators import brunel_network
from aersim.simcore import RunConfig, Simulation
from aersim.simcore.run import simulation


def test_projected_build_is_refused_before_allocating(monkeypatch):
    net = brunel_network(n_exc=400, n_inh=100, epsilon=0.1)     # 25,000 synapses
    sim = Simulation(net, "loihi_like")
    n_msg = sim.syn.msg_core.size
    need = memory.build_bytes(net.n_synapses, n_msg)
    assert need == net.n_synapses * memory.BUILD_BYTES_PER_SYNAPSE \
        + n_msg * memory.BUILD_BYTES_PER_MESSAGE

    def must_not_run(*_args):
        raise AssertionError("the synapse tables were built although they do not fit")

    monkeypatch.setattr(simulation, "build_synapses", must_not_run)
    monkeypatch.setattr(memory, "available_bytes", lambda: int(need) - 1)
    with pytest.raises(NetworkError, match=r"building the engine's tables for 0\.0 M synapses "
                                           r"in 0\.0 M messages needs about .* GiB at its peak "
                                           r"but this machine has .* available; simulate a "
                                           r"smaller network"):
        Simulation(net, "loihi_like")
    # Exactly enough memory: the build goes ahead.
    monkeypatch.setattr(memory, "available_bytes", lambda: int(need))
    monkeypatch.setattr(simulation, "build_synapses", lambda *_args: sim.syn)
    assert Simulation(net, "loihi_like").syn is sim.syn


def test_message_tables_are_narrow_and_exact():
    """The per-message tables are int32 where their values fit and equal the int64 formulas."""
    import numpy as np

    from aersim.simcore.engine.build import delay_steps, widest
    from aersim.simcore.engine.synapse_tables import message_synapses
    from aersim.simcore.errors import ConfigError

    net = brunel_network(n_exc=400, n_inh=100, epsilon=0.1)
    sim = Simulation(net, "loihi_like", config=RunConfig(mode="timestep"))
    syn, chip = sim.syn, sim.chip_tables
    per_msg = message_synapses(syn)
    assert chip.msg_syn_n.dtype == np.int32 and chip.msg_send.dtype == np.int32
    # loihi_like prices every synapse alike and sends in row-major order: one storage column,
    # no stored send order.
    assert chip.msg_syn_n.shape == (per_msg.size, 1) and chip.msg_send.size == 0
    assert np.array_equal(chip.msg_syn_n.sum(axis=1), per_msg)
    price = sim.chip.core.latency_ps["synaptic_op"]
    assert chip.msg_syn_ps.dtype == np.int32
    assert np.array_equal(chip.msg_syn_ps, per_msg * price)
    assert syn.seg_lo.dtype == syn.msg_seg_lo.dtype == syn.seg_delay.dtype == np.int32
    assert np.array_equal(syn.delay_ps, [1_500_000_000])
    # One delay and one copied table: a neuron's segments make one delivery run.
    assert sim.mode_tables.runs.dtype == np.int32
    assert sim.mode_tables.runs.shape == (net.n_neurons, 4)
    assert widest(syn.msg_seg_lo) == np.diff(syn.msg_seg_lo).max()
    assert widest(np.zeros(1, np.int64)) == 0
    delays = np.array([0, 5, 149_999, 150_000, 1_000_000_007], dtype=np.int64)
    seg_delay = np.array([4, 0, 2, 2, 3, 1], dtype=np.int32)
    tables = syn._replace(delay_ps=delays, seg_delay=seg_delay)
    steps = delay_steps(tables, 100_000)
    assert steps.dtype == np.int32 and np.array_equal(steps, delays[seg_delay] // 100_000)
    # 2**40 - 1 ps (the longest delay the tables hold) in 1 ps steps does not fit int32.
    with pytest.raises(ConfigError, match=r"longest synaptic delay \(1099511627775 ps\) is "
                                          r"1099511627775 steps of dt=1 ps; raise dt"):
        delay_steps(syn._replace(delay_ps=np.array([3, 2**40 - 1], dtype=np.int64)), 1)


@pytest.mark.parametrize("most, price, dtype", [(1, 2**31 - 1, "int32"), (1, 2**31, "int64"),
                                               (2, 2**30 - 1, "int32"), (2, 2**30, "int64")])
def test_receive_work_is_int32_exactly_while_the_dearest_message_fits(most, price, dtype):
    """The dearest message (``most`` synapses at ``price`` ps each) ends at 2**31 - 1 ps or
    2**31 - 2 ps (int32) or reaches 2**31 ps (int64)."""
    from types import SimpleNamespace

    import numpy as np

    from aersim.simcore.engine.message_tables import receive_work_ps

    chip = SimpleNamespace(core=SimpleNamespace(latency_ps={"synaptic_op": price,
                                                            "message_in": 7}))
    work = receive_work_ps(chip, None, np.array([[most], [1], [0]], dtype=np.int32))
    assert work.dtype == dtype
    assert work.tolist() == [most * price, price, 0]


def test_receive_work_bound_counts_every_storage_kind():
    import numpy as np

    from aersim.simcore.engine.message_tables import work_bound_ps

    n = np.array([[5, 0, 1], [2, 9, 0]], dtype=np.int32)
    prices = np.array([[10, 20, 30, -4], [11, 2, 3, 6]], dtype=np.int64)
    # Most per kind (5, 9, 1) at the dearest price per kind (11, 20, 30), plus |6|.
    assert work_bound_ps(n, prices) == 5 * 11 + 9 * 20 + 30 + 6


@pytest.mark.parametrize("in_place", [True, False])
def test_projection_covers_what_the_build_keeps(in_place):
    """The projected build bytes cover the engine's per-synapse, per-segment and per-message
    arrays of a real build, with a margin for passing arrays that is not larger than what the
    copied layout keeps. In place (Brunel's projections are one arena) nothing is kept per
    synapse; copied, 8 bytes."""
    import numpy as np

    from aersim.simcore.engine.synapse_tables import COPY_SEGMENT_BYTES, IN_PLACE_SEGMENT_BYTES

    net = brunel_network(n_exc=400, n_inh=100, epsilon=0.1)
    sim = Simulation(net, "loihi_like", config=RunConfig(
        mode="timestep", synapses="in_place" if in_place else "copy"))
    syn, chip = sim.syn, sim.chip_tables
    n_syn, n_msg, n_seg = net.n_synapses, syn.msg_core.size, syn.seg_delay.size
    arena = net.projections[0].indices.base
    assert (syn.target is arena) == in_place
    assert np.shares_memory(syn.seg_hi, syn.seg_lo) != in_place
    # One delay: a segment per message, and one more where E and I neurons share a core.
    assert n_msg <= n_seg <= n_msg + (n_msg if in_place else 0)
    per_syn = 0 if in_place else syn.target.nbytes + syn.weight.nbytes
    seg_arrays = (syn.seg_lo, syn.seg_slot0, syn.seg_delay) + ((syn.seg_hi,) if in_place else ())
    per_seg = sum(a.nbytes for a in seg_arrays)
    per_msg = sum(a.nbytes for a in (syn.msg_core, syn.msg_seg_lo, chip.msg_syn_ps,
                                     chip.msg_syn_n, chip.msg_send))
    assert per_syn == (0 if in_place else 8 * n_syn)
    # The bytes per segment the layout rule weighs (+ seg_lo's last entry).
    assert per_seg == (IN_PLACE_SEGMENT_BYTES if in_place else COPY_SEGMENT_BYTES) * n_seg + 4
    assert per_msg == 16 * n_msg + 4                            # + msg_seg_lo's last entry
    # The time-step engine's delivery runs: 16 bytes each (int32), at most one per segment, and
    # a pointer per neuron; copied, a neuron's segments make one run (one delay).
    runs = sim.mode_tables.runs
    assert runs.dtype == np.int32 and len(runs) <= n_seg
    assert len(runs) == net.n_neurons or in_place
    per_run = runs.nbytes + sim.mode_tables.run_ptr.nbytes
    assert per_run == 16 * len(runs) + 8 * (net.n_neurons + 1)
    kept = per_syn + per_seg + per_msg + per_run
    need = memory.build_bytes(n_syn, n_msg)
    assert kept < need
    if not in_place:
        assert need < 2 * kept


def test_a_large_build_announces_its_projected_peak(monkeypatch, capsys):
    """Past ``ANNOUNCE_BUILD_BYTES`` the build says what it projects before building: to the
    ``announce`` callback, and on stderr for a run with progress (as ``aersim run``), rank 0."""
    from aersim.simcore.run.spec import RunSpec, execute

    net = brunel_network(n_exc=400, n_inh=100, epsilon=0.1)
    lines = []
    Simulation(net, "loihi_like", announce=lines.append)
    assert lines == []                                   # 25,000 synapses: below the bar
    monkeypatch.setattr(simulation, "ANNOUNCE_BUILD_BYTES", 0)
    monkeypatch.setattr(memory, "available_bytes", lambda: 3 << 30)
    sim = Simulation(net, "loihi_like", announce=lines.append)
    need = memory.build_bytes(net.n_synapses, sim.syn.msg_core.size)
    assert lines == [f"building the engine's tables for 0.0 M synapses in "
                     f"{sim.syn.msg_core.size / 1e6:.1f} M messages: about "
                     f"{need / memory.GIB:.1f} GiB at its peak (3.0 GiB available)"]
    execute(RunSpec(network="random", chip="minimal", duration_s=0.001, out=None),
            progress=True)
    assert "aersim: building the engine's tables for" in capsys.readouterr().err
    execute(RunSpec(network="random", chip="minimal", duration_s=0.001, out=None))
    assert "building" not in capsys.readouterr().err
