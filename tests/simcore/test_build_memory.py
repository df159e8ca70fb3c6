"""A build that would not fit in memory is refused before its tables are allocated."""

import pytest

from aersim.models import memory
from aersim.models.errors import NetworkError
from aersim.models.generators import brunel_network
from aersim.simcore import Simulation
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
