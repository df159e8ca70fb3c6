"""Operation kinds, and pricing of operation counts into an energy ledger (count, then price).

The engines count operations per core and per kind into an int64 array ``counts`` of shape
``(n_cores, N_OPS)`` whose columns follow :data:`OP_KINDS`. Energy is computed after the run::

    E = sum_core sum_kind counts[core, kind] * price[kind]       (dynamic)
      + static_power_w * duration_s                                (static, whole chip)
      + barrier_energy * n_barriers                                (timestep mode)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Columns of the per-core operation counters. Hops are counted on the core that sent the
#: message (per-link counters come from the network-on-chip model).
OP_KINDS = (
    "synaptic_op",     # one synapse processed at the destination core
    "neuron_update",   # one neuron state update (per step in timestep mode, per event in async)
    "spike_out",       # one spike emitted by a neuron of this core
    "message_out",     # one message leaving this core (one per destination core: unicast)
    "message_in",      # one message received and decoded by this core
    "router",          # one traversal of the sending tile's router
    "hop_east",
    "hop_west",
    "hop_north",
    "hop_south",
    "stim_in",         # one external stimulus event applied directly to a neuron of this core
)
OP_INDEX = {name: i for i, name in enumerate(OP_KINDS)}
N_OPS = len(OP_KINDS)

SYNAPTIC_OP, NEURON_UPDATE, SPIKE_OUT, MESSAGE_OUT, MESSAGE_IN, ROUTER, HOP_EAST, HOP_WEST, \
    HOP_NORTH, HOP_SOUTH, STIM_IN = range(N_OPS)


def price_vector_pj(chip) -> np.ndarray:
    """Energy of one operation of each kind on ``chip``, picojoules, float64 ``(N_OPS,)``."""
    core, noc = chip.core, chip.noc
    prices = np.zeros(N_OPS, dtype=np.float64)
    prices[SYNAPTIC_OP] = core.energy_pj["synaptic_op"]
    prices[NEURON_UPDATE] = core.energy_pj["neuron_update"]
    prices[SPIKE_OUT] = core.energy_pj["spike_out"]
    prices[MESSAGE_OUT] = core.energy_pj["message_out"]
    prices[MESSAGE_IN] = core.energy_pj["message_in"]
    prices[STIM_IN] = core.energy_pj["synaptic_op"]
    prices[ROUTER] = noc.router_energy_pj
    prices[HOP_EAST] = prices[HOP_WEST] = noc.hop_energy_pj["east_west"]
    prices[HOP_NORTH] = prices[HOP_SOUTH] = noc.hop_energy_pj["north_south"]
    return prices


@dataclass(frozen=True, eq=False)
class EnergyLedger:
    """Where the energy went.

    Attributes
    ----------
    by_core_op_j : ndarray, float64, (n_cores, N_OPS)
        Dynamic energy per core and operation kind, joules.
    static_j : float
        Static (leakage) energy of the whole chip over ``duration_ps``, joules.
    barrier_j : float
        Energy of the timestep barriers, joules.
    duration_ps : int
        Hardware time the static power was integrated over, picoseconds.
    """

    by_core_op_j: np.ndarray
    static_j: float
    barrier_j: float
    duration_ps: int

    @property
    def dynamic_j(self) -> float:
        """Total dynamic energy, joules."""
        return float(self.by_core_op_j.sum())

    @property
    def total_j(self) -> float:
        """Dynamic + static + barrier energy, joules."""
        return self.dynamic_j + self.static_j + self.barrier_j

    def by_op_j(self) -> dict[str, float]:
        """Dynamic energy summed over cores, by operation kind, joules."""
        return {k: float(v) for k, v in zip(OP_KINDS, self.by_core_op_j.sum(axis=0), strict=True)}

    def by_core_j(self) -> np.ndarray:
        """Dynamic energy per core, joules, ``(n_cores,)``."""
        return self.by_core_op_j.sum(axis=1)


def price(counts: np.ndarray, chip, duration_ps: int, n_barriers: int = 0) -> EnergyLedger:
    """Turn operation counts into an :class:`EnergyLedger`.

    Parameters
    ----------
    counts : ndarray, int64, (n_cores, N_OPS)
        Operation counts per core and kind (columns in :data:`OP_KINDS` order).
    chip : ChipSpec
    duration_ps : int
        Hardware time of the run, picoseconds (static power is integrated over it).
    n_barriers : int
        Number of timestep barriers.
    """
    counts = np.asarray(counts)
    if counts.shape != (chip.n_cores, N_OPS):
        raise ValueError(f"counts must have shape ({chip.n_cores}, {N_OPS}) for chip "
                         f"{chip.name!r}, got {counts.shape}")
    dynamic = counts.astype(np.float64) * (price_vector_pj(chip) * 1e-12)
    static = chip.static_power_w * duration_ps * 1e-12
    barrier = chip.barrier_energy_pj * 1e-12 * n_barriers
    return EnergyLedger(dynamic, float(static), float(barrier), int(duration_ps))
