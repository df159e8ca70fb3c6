"""The ipu_like preset: a 1,472-tile MIMD chip with large per-tile SRAM, run as BSP supersteps."""

import numpy as np

from aersim.hardware import load_chip, map_network
from aersim.models import ff_network
from aersim.simcore import PoissonInput, RunConfig, Simulation


def test_loads_with_the_gc200_geometry_and_bsp_mapping():
    chip = load_chip("ipu_like")
    assert chip.n_tiles == 1472 and chip.n_cores == 1472
    assert chip.execution_mode == "timestep"                     # BSP supersteps
    assert chip.barrier_latency_ps > 0                           # sync
    # Exchange: distance-independent, one 32-bit word per tile per cycle.
    assert chip.noc.hop_energy_pj == {"east_west": 0.0, "north_south": 0.0}
    assert chip.noc.hop_latency_ps == {"east_west": 0, "north_south": 0}
    assert chip.noc.packet_bits == 32
    per_tile_gbps = 4 / (chip.noc.cycle_ps * 1e-12) / 1e9
    assert 5.0 < per_tile_gbps < 5.6                             # 8 TB/s / 1,472 tiles
    # 560 KiB of synapse memory + 64 KiB of neuron state = 624 KiB per tile.
    assert chip.core.sram.size_bytes + chip.core.neurons * 16 == 624 * 1024
    assert chip.core.sram.size_bytes * chip.n_tiles > 700 * 2 ** 20


def test_maps_many_neurons_per_tile_and_runs_a_short_timestep_run():
    chip = load_chip("ipu_like")
    net = ff_network(n_input=2048, layer_size=4096, n_layers=4, fan_in=32, w_mean_mv=1.5,
                     w_std_mv=1.0, seed=0)
    mapping = map_network(net, chip)
    used = mapping.neurons_per_core[mapping.neurons_per_core > 0]
    assert used.max() == chip.core.neurons                       # tiles filled to 4,096 neurons
    assert used.shape[0] == -(-net.n_neurons // chip.core.neurons)
    assert int(mapping.sram_bytes_per_core.max()) <= chip.core.sram.size_bytes
    sim = Simulation(net, chip, mapping=mapping,
                     config=RunConfig(mode="timestep", seed=0),
                     stimuli=[PoissonInput("input", 200.0)])
    res = sim.run(0.005)
    assert res.n_spikes > 0
    assert res.hardware_time_ps > 0
    assert np.isfinite(res.ledger.total_j) and res.ledger.total_j > 0
