"""Virtual channels in the contention model: invariants, and relief of head-of-line blocking."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from aersim.hardware import chip_from_dict, load_chip
from aersim.hardware.errors import ChipSpecError
from aersim.simcore.engine.hardware_model import simulate_noc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from noc_saturation import saturation  # noqa: E402


def vc_chip(vcs, name="loihi_like", **noc):
    chip = load_chip(name)
    return dataclasses.replace(chip, noc=dataclasses.replace(
        chip.noc, contention=True, flit_bits=8, virtual_channels=vcs, **noc))


def test_virtual_channels_are_validated():
    d = {"name": "x", "execution_mode": "timestep",
         "mesh": {"width": 2, "height": 1, "cores_per_tile": 1},
         "core": {"neurons": 4, "energy_pj": dict.fromkeys(
             ("synaptic_op", "neuron_update", "spike_out", "message_out", "message_in"), 1.0),
                  "latency_ns": dict.fromkeys(
             ("synaptic_op", "neuron_update", "spike_out", "message_out", "message_in"), 1.0)},
         "noc": {"hop_energy_pj": {"east_west": 1, "north_south": 1},
                 "hop_latency_ns": {"east_west": 1, "north_south": 1},
                 "router_energy_pj": 1, "router_latency_ns": 1, "packet_bits": 32,
                 "virtual_channels": 0},
         "barrier": {"latency_ns": 1}, "static_power_w": 0}
    with pytest.raises(ChipSpecError, match="virtual_channels"):
        chip_from_dict(d)
    d["noc"]["virtual_channels"] = 4
    assert chip_from_dict(d).noc.virtual_channels == 4


@pytest.mark.parametrize("vcs", [2, 4])
def test_every_packet_arrives_and_buffers_hold(vcs):
    chip = vc_chip(vcs)
    rng = np.random.default_rng(2)
    n = 3000
    src = rng.integers(0, chip.n_cores, n)
    dest = (src + rng.integers(1, chip.n_cores, n)) % chip.n_cores
    t = np.sort(rng.integers(0, 200_000, n))
    run = simulate_noc(chip, t, src, dest)
    assert np.all(run.t_ps > t[run.packet])
    assert run.links.max_queue_flits.max() <= chip.noc.buffer_flits
    one = simulate_noc(vc_chip(1), t, src, dest)
    assert run.links.flits.sum() == one.links.flits.sum()      # same routes, same flits


def test_virtual_channels_raise_saturation_throughput():
    one = saturation(vc_chip(1), 8000)["busiest_link_utilisation"]
    four = saturation(vc_chip(4), 8000)["busiest_link_utilisation"]
    assert four > one + 0.03
