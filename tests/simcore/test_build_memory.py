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
    from aersim.simcore.errors import ConfigError

    net = brunel_network(n_exc=400, n_inh=100, epsilon=0.1)
    sim = Simulation(net, "loihi_like", config=RunConfig(mode="timestep"))
    syn, chip = sim.syn, sim.chip_tables
    per_msg = syn.seg_lo[syn.msg_seg_lo[1:]] - syn.seg_lo[syn.msg_seg_lo[:-1]]
    assert chip.msg_syn_n.dtype == np.int32 and chip.msg_send.dtype == np.int32
    assert np.array_equal(chip.msg_syn_n.sum(axis=1), per_msg)
    price = sim.chip.core.latency_ps["synaptic_op"]
    assert np.array_equal(chip.msg_syn_ps, per_msg * price)
    assert sim.mode_tables.seg_delay_steps.dtype == np.int32
    assert widest(syn.msg_seg_lo) == np.diff(syn.msg_seg_lo).max()
    assert widest(np.zeros(1, np.int64)) == 0
    delays = np.array([0, 5, 149_999, 150_000, 1_000_000_007], dtype=np.int64)
    assert np.array_equal(delay_steps(delays, 100_000, block=2), delays // 100_000)
    # 2**40 - 1 ps (the longest delay the tables hold) in 1 ps steps does not fit int32.
    with pytest.raises(ConfigError, match=r"longest synaptic delay \(1099511627775 ps\) is "
                                          r"1099511627775 steps of dt=1 ps; raise dt"):
        delay_steps(np.array([3, 2**40 - 1], dtype=np.int64), 1)
