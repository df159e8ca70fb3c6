"""Operation kinds, and pricing of operation counts into an energy ledger (count, then price).

The engines count operations per core and per kind into an int64 array ``counts`` of shape
``(n_cores, N_OPS)`` whose columns follow :data:`OP_KINDS`. Energy is computed after the run::

    E = sum_core sum_kind ops[core, kind] * price[kind]          (dynamic)
      + (static_power_w * u / n_cores + u * sram.leakage) * duration_s   (static)
      + barrier_energy(tiles in use) * n_barriers                   (timestep mode)

``u`` is the number of cores holding neurons when ``power_gating`` is on (the default), else
``n_cores``. Static energy is reported for the busy run (``duration_s`` = hardware time) and,
when the paced duration is given, for the run paced at the algorithmic time
(:func:`paced_duration_ps`).

``ops`` is ``counts`` with the memory and converter kinds (:data:`DERIVED_KINDS`) filled in.
The engines count the first :data:`N_COUNTED` kinds; until they also count ``sram_read``,
``sram_write``, ``adc_conversion`` and ``dac_activation``, :func:`derive_counts` derives them
from the counted kinds and the chip, per core. A kind is derived only when its column is zero on
every core (so a count from an engine always wins) and only for chips that have the part:

SRAM (``core.sram``), with ``r = synapse_reads_per_op(weight_bits, index_bits, synapse_format,
sram.word_bits)`` word reads per synapse (entries packed into words; hardware-numbers §3.2: "a
synaptic event costs one row/list lookup plus one word read per synapse")::

    sram_read  = r * synaptic_op + message_in + neuron_update     (digital core)
    sram_read  =                   message_in + neuron_update     (crossbar core: weights are
                                                                   in the crossbar, not in SRAM)
    sram_write = neuron_update

``message_in`` pays one word read for the lookup of the arriving source's synapse list (or, on a
crossbar core, of its crossbar row); a neuron update reads and writes back one state word (the
state is assumed to fit one word). ``r`` may be fractional (four 8-bit weights per 32-bit word
give ``r = 0.25``), so derived counts are float64 expectations, not integers.

Crossbar (``core.crossbar``): every message received drives one analog MVM. The source's
synapses on the core occupy one row in each crossbar tile they fall in; each of those rows is one
DAC (row driver) activation, and every column that holds a synapse of the source is converted by
the ADC once (column-gated readout; one conversion per weight column, the differential pair's two
currents being subtracted before the ADC)::

    adc_conversion = synaptic_op
    dac_activation = max(message_in, ceil(synaptic_op / crossbar.columns))

Both are lower bounds: a source whose synapses on a core spread over more column blocks than its
synapse count requires drives more rows, and a tile that converts all its used columns on every
MVM (what :func:`hardware.crossbar.array.mvm` counts) converts more columns. The engines can
count both exactly, per message, from the tiling of the mapped network.

Every derived count is priced like a counted one (``sram.read_energy_pj``,
``sram.write_energy_pj``, ``crossbar.adc_energy_pj``, ``crossbar.dac_energy_pj``) and kept in the
ledger (:attr:`EnergyLedger.ops`, :attr:`EnergyLedger.derived`). The energy of the crossbar
array itself and of the digital shift-add is part of the core's ``synaptic_op`` price. Chips
without ``core.sram`` and ``core.crossbar`` price exactly as before: the derived columns are zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aersim.hardware.sram import synapse_reads_per_op

#: Columns of the per-core operation counters. Hops are counted on the core that sent the
#: message (per-link counters come from the network-on-chip model). New kinds are appended, so
#: the index of every older kind stays the same.
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
    "sram_read",       # one word read from the core's SRAM bank
    "adc_conversion",  # one column conversion of a crossbar tile
    "dac_activation",  # one row (DAC / row driver) activation of a crossbar tile
    "sram_write",      # one word written to the core's SRAM bank
    "synaptic_op_dense",  # one synapse of a dense (all-to-all) matrix, chips that price it apart
    "synaptic_op_conv",   # one synapse of a shared convolution kernel, likewise
    "neuron_idle",     # one update of an idle neuron (only its state is read), likewise
    "input_spike",     # one spike of an input neuron, likewise
    "chip_link",       # one packet over one chip-to-chip link of a system (sending core)
)
OP_INDEX = {name: i for i, name in enumerate(OP_KINDS)}
N_OPS = len(OP_KINDS)
#: Counts of the first ``N_COUNTED`` kinds alone are accepted (older callers); the engines count
#: those and the kinds after :data:`DERIVED_KINDS`.
N_COUNTED = 11
#: The kinds :func:`derive_counts` fills in when no engine counted them.
DERIVED_KINDS = OP_KINDS[N_COUNTED:15]

SYNAPTIC_OP, NEURON_UPDATE, SPIKE_OUT, MESSAGE_OUT, MESSAGE_IN, ROUTER, HOP_EAST, HOP_WEST, \
    HOP_NORTH, HOP_SOUTH, STIM_IN, SRAM_READ, ADC_CONVERSION, DAC_ACTIVATION, SRAM_WRITE, \
    SYNAPTIC_OP_DENSE, SYNAPTIC_OP_CONV, NEURON_IDLE, INPUT_SPIKE, CHIP_LINK = range(N_OPS)


def price_vector_pj(chip, mode: str | None = None) -> np.ndarray:
    """Energy of one operation of each kind on ``chip``, picojoules, float64 ``(N_OPS,)``.

    ``mode`` (default: the chip's ``execution_mode``): in ``async`` mode a neuron update is one
    touched neuron at one event instant and costs ``energy_pj.neuron_update_event`` when the
    chip gives it (a chip whose ``neuron_update`` is a per-tick figure); otherwise
    ``neuron_update``.
    """
    core, noc = chip.core, chip.noc
    mode = mode or getattr(chip, "execution_mode", "timestep")
    prices = np.zeros(N_OPS, dtype=np.float64)
    prices[SYNAPTIC_OP] = core.energy_pj["synaptic_op"]
    prices[NEURON_UPDATE] = core.energy_pj["neuron_update"]
    if mode == "async" and "neuron_update_event" in core.energy_pj:
        prices[NEURON_UPDATE] = core.energy_pj["neuron_update_event"]
    prices[SPIKE_OUT] = core.energy_pj["spike_out"]
    prices[MESSAGE_OUT] = core.energy_pj["message_out"]
    prices[MESSAGE_IN] = core.energy_pj["message_in"]
    prices[STIM_IN] = core.energy_pj["synaptic_op"]
    for kind, op in ((SYNAPTIC_OP_DENSE, "synaptic_op_dense"), (SYNAPTIC_OP_CONV,
                     "synaptic_op_conv"), (NEURON_IDLE, "neuron_idle"),
                     (INPUT_SPIKE, "input_spike")):
        prices[kind] = core.energy_pj.get(op, 0.0)
    prices[ROUTER] = noc.router_energy_pj
    prices[HOP_EAST] = prices[HOP_WEST] = noc.hop_energy_pj["east_west"]
    prices[HOP_NORTH] = prices[HOP_SOUTH] = noc.hop_energy_pj["north_south"]
    sram = getattr(core, "sram", None)
    if sram is not None:
        prices[SRAM_READ] = sram.read_energy_pj
        prices[SRAM_WRITE] = sram.write_energy_pj
    crossbar = getattr(core, "crossbar", None)
    if crossbar is not None:
        prices[ADC_CONVERSION] = crossbar.adc_energy_pj
        prices[DAC_ACTIVATION] = crossbar.dac_energy_pj
    prices[CHIP_LINK] = float(np.mean(link_packet_energy_pj(chip))) if \
        getattr(chip, "n_links", 0) else 0.0
    return prices


def link_packet_energy_pj(chip) -> np.ndarray:
    """Energy of one packet over each directed chip-to-chip link of a system, picojoules
    ``(n_links,)``: (packet bits + the link's overhead bits) x its energy per bit, plus its energy
    per packet (empty for a single chip)."""
    n = int(getattr(chip, "n_links", 0))
    pb = chip.noc.packet_bits
    return np.array([chip.directed_link(d)[2].packet_energy_pj(pb) for d in range(n)],
                    dtype=np.float64)


def _per_type(chip):
    """``(core type of every core, one-type view of the chip per type)`` of a mixed-tile chip,
    or None for a chip of one core type."""
    specs = chip.core_specs() if hasattr(chip, "core_specs") else (chip.core,)
    if len(specs) == 1:
        return None
    return chip.core_type_of(), [chip.with_core(spec) for spec in specs]


def price_matrix_pj(chip, mode: str | None = None) -> np.ndarray:
    """Energy of one operation of each kind on each core, picojoules: float64 ``(N_OPS,)`` for
    a chip of one core type, ``(n_cores, N_OPS)`` for mixed tiles (each core its type's
    prices)."""
    types = _per_type(chip)
    if types is None:
        return price_vector_pj(chip, mode)
    kind, views = types
    return np.stack([price_vector_pj(v, mode) for v in views])[kind]


def _full_counts(counts, chip) -> np.ndarray:
    """``counts`` as ``(n_cores, N_OPS)``; the counted kinds alone are padded with zeros."""
    counts = np.asarray(counts)
    if counts.ndim == 2 and counts.shape == (chip.n_cores, N_COUNTED):
        counts = np.concatenate(
            [counts, np.zeros((chip.n_cores, N_OPS - N_COUNTED), dtype=counts.dtype)], axis=1)
    if counts.shape != (chip.n_cores, N_OPS):
        raise ValueError(f"counts must have shape ({chip.n_cores}, {N_COUNTED}) (the counted "
                         f"kinds) or ({chip.n_cores}, {N_OPS}) (all of OP_KINDS) for chip "
                         f"{chip.name!r}, got {counts.shape}")
    return counts


def derive_counts(counts, chip) -> tuple[np.ndarray, tuple]:
    """Operation counts with the memory and converter kinds derived, each core by its own core
    type on a mixed-tile chip (see :func:`derive_counts_one_type`)."""
    types = _per_type(chip)
    if types is None:
        return derive_counts_one_type(counts, chip)
    kind, views = types
    ops, names = None, []
    for t, view in enumerate(views):
        ops_t, names_t = derive_counts_one_type(counts, view)
        if ops is None:
            ops = ops_t
        rows = kind == t
        ops[rows] = ops_t[rows]
        names += [k for k in names_t if k not in names and ops_t[rows][:, OP_INDEX[k]].any()]
    return ops, tuple(k for k in OP_KINDS if k in names)


def derive_counts_one_type(counts, chip) -> tuple[np.ndarray, tuple]:
    """Operation counts with the memory and converter kinds derived (see the module docstring).

    Parameters
    ----------
    counts : ndarray, int64, (n_cores, N_OPS) or (n_cores, N_COUNTED)
    chip : ChipSpec

    Returns
    -------
    ops : ndarray, float64, (n_cores, N_OPS)
        ``counts`` with every column of :data:`DERIVED_KINDS` that is zero on all cores replaced
        by its derivation (zero when the chip lacks the part).
    derived : tuple of str
        The kinds that were derived (and are non-zero somewhere).
    """
    counts = _full_counts(counts, chip)
    ops = counts.astype(np.float64)
    core = chip.core
    syn = ops[:, SYNAPTIC_OP] + ops[:, SYNAPTIC_OP_DENSE] + ops[:, SYNAPTIC_OP_CONV]
    msg, upd = ops[:, MESSAGE_IN], ops[:, NEURON_UPDATE]
    idle = ops[:, NEURON_IDLE]
    derived = np.zeros((chip.n_cores, N_OPS), dtype=np.float64)
    sram = getattr(core, "sram", None)
    crossbar = getattr(core, "crossbar", None)
    if sram is not None:
        per_syn = 0.0 if crossbar is not None else synapse_reads_per_op(
            core.weight_bits, core.index_bits, core.synapse_format, sram.word_bits)
        derived[:, SRAM_READ] = per_syn * syn + msg + upd + idle
        derived[:, SRAM_WRITE] = upd
    if crossbar is not None:
        derived[:, ADC_CONVERSION] = syn
        derived[:, DAC_ACTIVATION] = np.maximum(msg, np.ceil(syn / crossbar.columns))
    names = []
    for k in range(N_COUNTED, N_COUNTED + len(DERIVED_KINDS)):
        if not counts[:, k].any() and derived[:, k].any():
            ops[:, k] = derived[:, k]
            names.append(OP_KINDS[k])
    return ops, tuple(names)


@dataclass(frozen=True, eq=False)
class EnergyLedger:
    """Where the energy went.

    Attributes
    ----------
    by_core_op_j : ndarray, float64, (n_cores, N_OPS)
        Dynamic energy per core and operation kind, joules.
    static_j : float
        Static (leakage) energy of the whole chip over ``duration_ps``, joules, including
        ``sram_leakage_j``.
    barrier_j : float
        Energy of the timestep barriers, joules.
    duration_ps : int
        Hardware time the static power was integrated over, picoseconds.
    ops : ndarray, float64, (n_cores, N_OPS) or None
        The operation counts that were priced: the engine's counts plus the derived kinds.
    derived : tuple of str
        Kinds of ``ops`` that :func:`derive_counts` derived rather than an engine counted.
    sram_leakage_j : float
        The part of ``static_j`` that is SRAM leakage (one bank per powered core), joules.
    static_power_w : float
        The static power drawn (after power gating), watts.
    static_paced_j : float or None
        Static energy of the same run paced at the algorithmic time (real time), joules, when
        the caller gave the paced duration.
    """

    by_core_op_j: np.ndarray
    static_j: float
    barrier_j: float
    duration_ps: int
    ops: np.ndarray | None = None
    derived: tuple = ()
    sram_leakage_j: float = 0.0
    static_power_w: float = 0.0
    static_paced_j: float | None = None
    #: Energy of every directed chip-to-chip link of a system, joules ``(n_links,)`` (part of
    #: the ``chip_link`` column of ``by_core_op_j``), or None.
    by_link_j: np.ndarray | None = None

    def static_for_j(self, duration_ps: int) -> float:
        """Static energy over another duration (e.g. :func:`paced_duration_ps`), joules."""
        return self.static_power_w * int(duration_ps) * 1e-12

    @property
    def dynamic_j(self) -> float:
        """Total dynamic energy, joules."""
        return float(self.by_core_op_j.sum())

    @property
    def total_j(self) -> float:
        """Dynamic + static + barrier energy, joules."""
        return self.dynamic_j + self.static_j + self.barrier_j

    def by_op_j(self) -> dict[str, float]:
        """Dynamic energy summed over cores, by operation kind (derived kinds too), joules."""
        return {k: float(v) for k, v in zip(OP_KINDS, self.by_core_op_j.sum(axis=0), strict=True)}

    def by_op_count(self) -> dict[str, float]:
        """Priced operations summed over cores, by kind (derived kinds may be fractional)."""
        if self.ops is None:
            return {}
        return {k: float(v) for k, v in zip(OP_KINDS, self.ops.sum(axis=0), strict=True)}

    def by_core_j(self) -> np.ndarray:
        """Dynamic energy per core, joules, ``(n_cores,)``."""
        return self.by_core_op_j.sum(axis=1)


#: Kinds whose count on a core shows that the core holds neurons (used to tell which cores are
#: in use when the caller does not say).
_ACTIVITY_KINDS = (NEURON_UPDATE, NEURON_IDLE, SPIKE_OUT, INPUT_SPIKE, MESSAGE_IN, STIM_IN)


def cores_in_use(counts, chip) -> np.ndarray:
    """Cores that did any neuron work in ``counts`` (bool ``(n_cores,)``).

    A stand-in for the mapping's own list (:attr:`hardware.Mapping.core_of`) when only counts
    are at hand: a core holding only input neurons that never spiked is not seen.
    """
    counts = _full_counts(counts, chip)
    return counts[:, list(_ACTIVITY_KINDS)].sum(axis=1) > 0


def static_power_w(chip, cores_used=None) -> float:
    """Static power of ``chip`` (chip static power plus SRAM leakage), watts.

    ``cores_used`` (bool mask or core ids, optional): with ``chip.power_gating`` on, only these
    cores draw static power; the chip figure ``static_power_w`` is shared evenly by its cores
    (each core's share includes its part of the tile's router), so a chip using ``u`` of its
    ``n`` cores draws ``static_power_w * u / n`` plus ``u`` SRAM banks' leakage. A tile whose
    cores are all gated is therefore gated entirely. Without gating (or without
    ``cores_used``), the whole chip.
    """
    n = chip.n_cores
    if cores_used is not None and getattr(chip, "power_gating", True):
        used = np.asarray(cores_used)
        used = int(used.sum()) if used.dtype == np.bool_ else int(np.unique(used).size)
    else:
        used = n
    leak_w = float(_leak_per_core_w(chip)[_used_ids(chip, cores_used)].sum())
    return chip.static_power_w * used / n + leak_w


def _leak_per_core_w(chip) -> np.ndarray:
    """SRAM leakage of every core by its core type, watts ``(n_cores,)``."""
    specs = chip.core_specs() if hasattr(chip, "core_specs") else (chip.core,)
    per_type = np.array([s.sram.leakage_mw * 1e-3 if getattr(s, "sram", None) is not None
                         else 0.0 for s in specs])
    if len(specs) == 1:
        return np.full(chip.n_cores, per_type[0])
    return per_type[chip.core_type_of()]


def _used_ids(chip, cores_used) -> np.ndarray:
    """Ids of the powered cores: ``cores_used`` under power gating, else all."""
    if cores_used is None or not getattr(chip, "power_gating", True):
        return np.arange(chip.n_cores)
    used = np.asarray(cores_used)
    return np.flatnonzero(used) if used.dtype == np.bool_ else np.unique(used).astype(np.int64)


def paced_duration_ps(step_duration_ps, dt_ps: int) -> int:
    """Wall time of a timestep run paced at the algorithmic time (real time), picoseconds.

    Pacing rule: step ``k`` starts at ``k * dt`` (or when step ``k - 1`` ends, if that is
    later); the chip idles, drawing static power, until the next step is due. So a step costs
    ``max(step_duration, dt)`` of static time and the run ``sum_k max(d_k, dt)``. In ``async``
    mode hardware time is already the algorithmic time.
    """
    d = np.asarray(step_duration_ps, dtype=np.int64)
    return int(np.maximum(d, int(dt_ps)).sum())


def price(counts: np.ndarray, chip, duration_ps: int, n_barriers: int = 0, cores_used=None,
          paced_ps: int | None = None, mode: str | None = None,
          link_packets=None) -> EnergyLedger:
    """Turn operation counts into an :class:`EnergyLedger`.

    Parameters
    ----------
    counts : ndarray, int64, (n_cores, N_OPS) or (n_cores, N_COUNTED)
        Operation counts per core and kind (columns in :data:`OP_KINDS` order). Kinds of
        :data:`DERIVED_KINDS` that are zero everywhere are derived (:func:`derive_counts`).
    chip : ChipSpec
    duration_ps : int
        Hardware time of the run, picoseconds (static power and SRAM leakage are integrated
        over it: the busy, unthrottled run).
    n_barriers : int
        Number of timestep barriers.
    cores_used : array_like, optional
        The cores holding neurons (bool mask or ids), for power gating and the barrier's tile
        count; default :func:`cores_in_use` of ``counts``.
    paced_ps : int, optional
        Duration of the same run paced at the algorithmic time (:func:`paced_duration_ps`);
        gives :attr:`EnergyLedger.static_paced_j`.
    mode : str, optional
        Execution mode of the run (default: the chip's); see :func:`price_vector_pj`.
    link_packets : array_like, int, (n_links,), optional
        Packets over each directed chip-to-chip link of a system. Gives
        :attr:`EnergyLedger.by_link_j`; the ``chip_link`` column of each core is then its share
        of the links' energy at the links' mean price per packet (exact when every link type
        costs the same per packet). Without it, ``chip_link`` is priced at the mean over links.
    """
    ops, derived = derive_counts(counts, chip)
    dynamic = ops * (price_matrix_pj(chip, mode) * 1e-12)
    by_link = None
    if link_packets is not None and getattr(chip, "n_links", 0):
        by_link = np.asarray(link_packets, dtype=np.float64) * link_packet_energy_pj(chip) * 1e-12
        sent = ops[:, CHIP_LINK].sum()
        dynamic[:, CHIP_LINK] = ops[:, CHIP_LINK] * (by_link.sum() / sent if sent else 0.0)
    if cores_used is None:
        cores_used = cores_in_use(counts, chip)
    used = np.asarray(cores_used)
    ids = np.flatnonzero(used) if used.dtype == np.bool_ else np.unique(used)
    tiles = int(np.unique(ids // chip.cores_per_tile).size)
    power_w = static_power_w(chip, used)
    leak = float(_leak_per_core_w(chip)[_used_ids(chip, cores_used)].sum()) \
        * duration_ps * 1e-12
    static = power_w * duration_ps * 1e-12
    if getattr(chip, "n_chips", 1) > 1:
        per = np.bincount(np.unique(ids // chip.cores_per_tile) // chip.member.n_tiles,
                          minlength=chip.n_chips)
        barrier_pj = chip.barrier_for_chips(int(per.max(initial=0)),
                                            int(np.count_nonzero(per)))[1]
    elif hasattr(chip, "barrier_for_tiles"):
        barrier_pj = chip.barrier_for_tiles(tiles)[1]
    else:
        barrier_pj = chip.barrier_energy_pj
    barrier = barrier_pj * 1e-12 * n_barriers
    paced = None if paced_ps is None else power_w * max(int(paced_ps), int(duration_ps)) * 1e-12
    return EnergyLedger(dynamic, float(static), float(barrier), int(duration_ps), ops, derived,
                        float(leak), float(power_w), paced, by_link)
