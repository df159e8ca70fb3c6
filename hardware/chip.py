"""Chip descriptions: frozen ``ChipSpec`` and its parts, loaded from validated YAML files.

A chip is a 2-D mesh (or torus) of tiles; each tile has a router and ``cores_per_tile`` cores.
Core ``c`` sits on tile ``c // cores_per_tile``; tiles are numbered row by row, ``x`` growing
east and ``y`` growing south. All times are stored as int64 picoseconds; chip files give them in
nanoseconds (``*_ns``) because that is how data sheets and papers state them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from aersim.hardware.crossbar.devices import CrossbarSpec, crossbar_from_dict
from aersim.hardware.errors import ChipSpecError
from aersim.hardware.sram import SYNAPSE_FORMATS, SramSpec, sram_from_cacti

EXECUTION_MODES = ("timestep", "async")
TOPOLOGIES = ("mesh", "torus")
ROUTINGS = ("unicast", "multicast")
CORE_OPS = ("synaptic_op", "neuron_update", "spike_out", "message_out", "message_in")
#: Optional per-operation prices of a core (energy and latency). A chip that gives one has the
#: engines count that operation apart; a chip that does not prices it as the fallback:
#: ``synaptic_op_dense`` / ``synaptic_op_conv`` — one synapse stored as a dense (all-to-all)
#: matrix or as a shared convolution kernel (fallback ``synaptic_op``, which then prices the
#: sparse list storage); ``neuron_idle`` — a neuron whose update cannot change it (no input, no
#: bias, state at rest: only its state is read; fallback ``neuron_update``); ``input_spike`` —
#: a spike of an input neuron (fallback ``spike_out``).
OPTIONAL_CORE_OPS = ("synaptic_op_dense", "synaptic_op_conv", "neuron_idle", "input_spike")
_OPTIONAL_FALLBACK = {"synaptic_op_dense": "synaptic_op", "synaptic_op_conv": "synaptic_op",
                      "neuron_idle": "neuron_update", "input_spike": "spike_out"}
RECEIVE_MODES = ("serial", "concurrent")
SEND_ORDERS = ("row_major", "column_major")
CONGESTION_MODELS = ("none", "flow")


def ns_to_ps(ns: float) -> int:
    """Nanoseconds (float) to integer picoseconds, rounded to the nearest."""
    return int(round(float(ns) * 1000.0))


@dataclass(frozen=True)
class CoreSpec:
    """One neuromorphic core.

    Attributes
    ----------
    neurons : int
        Neuron capacity.
    synapses : int
        Synapse-memory capacity in synapses (0 = unlimited).
    energy_pj : dict[str, float]
        Energy per operation, picojoules, keys :data:`CORE_OPS`.
    latency_ps : dict[str, int]
        Time per operation, picoseconds, keys :data:`CORE_OPS`.
    crossbar : CrossbarSpec or None
        The memristive crossbar tiles that hold this core's synapses (``None``: a digital core
        whose synapses live in SRAM).
    sram : SramSpec or None
        The core's synapse-memory bank (``None``: not modelled; no SRAM energy, leakage or
        capacity check).
    synapse_format : str
        How synapses are stored in ``sram``, one of :data:`hardware.sram.SYNAPSE_FORMATS`.
    weight_bits, index_bits : int
        Width of a stored weight and of a stored target index (``index_bits`` counts only in the
        ``"sparse"`` format).
    crossbars_per_core : int
        Crossbar tiles a core holds (0 = unlimited).
    max_fan_in : int
        Distinct presynaptic neurons whose synapses may land on one core (0 = unlimited).
    max_fan_out : int
        Output edges per core, i.e. distinct (source neuron, destination core) pairs of the
        neurons it holds (0 = unlimited).
    receive : str
        ``"serial"``: a core serves the messages it receives after its update pass (one server).
        ``"concurrent"``: receiving (``message_in`` and synapses) runs beside the update pass
        on its own timeline, as SANA-FE's timing models and Loihi's separate input and neuron
        pipelines do (see ``docs/hardware.md``).
    send_order : str
        Order in which a spike's messages leave on the concurrent timeline: by destination core
        number with tiles numbered row by row (``"row_major"``, aersim's numbering) or column
        by column (``"column_major"``, SANA-FE's numbering and axon-table order).
    priced : tuple of str
        The :data:`OPTIONAL_CORE_OPS` this chip prices apart (``energy_pj`` and ``latency_ps``
        hold every optional key; the others carry their fallback's price).
    """

    neurons: int
    synapses: int
    energy_pj: dict
    latency_ps: dict
    crossbar: CrossbarSpec | None = None
    sram: SramSpec | None = None
    synapse_format: str = "sparse"
    weight_bits: int = 8
    index_bits: int = 0
    crossbars_per_core: int = 0
    max_fan_in: int = 0
    max_fan_out: int = 0
    receive: str = "serial"
    priced: tuple = ()
    send_order: str = "row_major"


@dataclass(frozen=True)
class NocSpec:
    """The network-on-chip: per-direction hop costs and the router traversal.

    Attributes
    ----------
    hop_energy_pj, hop_latency_ps : dict
        Keys ``east_west`` and ``north_south``: energy (pJ) and latency (ps) of one tile hop.
    router_energy_pj : float
        Energy of entering and leaving the tile router once (paid by every message).
    router_latency_ps : int
        Latency of that traversal (a message to a core on the same tile pays only this).
    packet_bits : int
        Size of one spike message.
    contention : bool
        False (default): the zero-load model, links never queue. True: packets of
        ``flits`` flits queue at links of one flit per ``cycle_ps`` and input buffers of
        ``buffer_flits`` flits (see ``docs/engine.md``).
    cycle_ps : int
        Time to move one flit over one link (0 when contention is off and no figure is given).
    flit_bits : int
        Width of a flit (0: a packet is one flit).
    buffer_flits : int
        Depth of each router input-port FIFO, flits (0: not given).
    routing : str
        ``"unicast"`` (one packet per destination core) or ``"multicast"`` (one packet per spike,
        replicated along its XY tree); used when ``contention`` is on.
    routing_table_entries : int
        Key/mask entries per router for multicast (0 = unlimited).
    congestion : str
        ``"none"``: zero-load latencies (or the flit-level model when ``contention`` is on).
        ``"flow"``: the flow-density estimate of SANA-FE's detailed timing model (messages in
        flight load the links of their route; a loaded route stretches a message's network
        delay and, past ``buffer_flits`` messages per link, blocks its sender). Needs
        ``core.receive: concurrent``; see ``docs/hardware.md``.
    """

    hop_energy_pj: dict
    hop_latency_ps: dict
    router_energy_pj: float
    router_latency_ps: int
    packet_bits: int
    contention: bool = False
    cycle_ps: int = 0
    flit_bits: int = 0
    buffer_flits: int = 0
    routing: str = "unicast"
    routing_table_entries: int = 0
    congestion: str = "none"
    virtual_channels: int = 1

    @property
    def flits(self) -> int:
        """Flits per packet: ``ceil(packet_bits / flit_bits)`` (1 without a flit width)."""
        return -(-self.packet_bits // self.flit_bits) if self.flit_bits else 1


@dataclass(frozen=True)
class ChipSpec:
    """A whole chip (frozen). Build with :func:`load_chip`."""

    name: str
    description: str
    width: int
    height: int
    cores_per_tile: int
    topology: str
    execution_mode: str
    core: CoreSpec
    noc: NocSpec
    barrier_latency_ps: int
    barrier_energy_pj: float
    static_power_w: float
    sources: dict = field(default_factory=dict)
    path: str = ""
    barrier_table: tuple = ()
    power_gating: bool = True
    #: Mixed tiles: ``((name, CoreSpec), ...)`` of the extra core types, and the type of every
    #: tile (0: ``core``, ``i``: ``core_types[i - 1]``); both empty on a chip of one core type.
    core_types: tuple = ()
    tile_types: tuple = ()

    def __post_init__(self):
        # Chip files are validated with their key paths on load; this catches a spec changed
        # in Python (dataclasses.replace) into one no chip file could describe.
        where = f"chip {self.name!r}"
        for name in ("width", "height", "cores_per_tile"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not 1 <= value <= 1 << 16:
                raise ChipSpecError(f"{where}: {name} must be an integer in 1..65536, got "
                                    f"{value!r}")
        if self.execution_mode not in EXECUTION_MODES:
            raise ChipSpecError(f"{where}: execution_mode {self.execution_mode!r} is not one of "
                                f"{EXECUTION_MODES}")
        for name in ("barrier_latency_ps", "barrier_energy_pj", "static_power_w"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                 np.floating)) \
                    or not np.isfinite(value) or value < 0:
                raise ChipSpecError(f"{where}: {name} must be a finite number >= 0, got "
                                    f"{value!r}")

    def barrier_for_tiles(self, tiles_used: int) -> tuple[int, float]:
        """Barrier ``(latency_ps, energy_pj)`` of a step on ``tiles_used`` tiles.

        With a table (``barrier.latency_by_tiles_ns``) the entry of the largest tile count
        ``<= tiles_used`` applies (the smallest entry below it); without one, the constants.
        """
        if not self.barrier_table:
            return self.barrier_latency_ps, self.barrier_energy_pj
        row = self.barrier_table[0]
        for entry in self.barrier_table:
            if entry[0] <= tiles_used:
                row = entry
        return row[1], row[2]

    @property
    def n_tiles(self) -> int:
        return self.width * self.height

    @property
    def n_cores(self) -> int:
        return self.n_tiles * self.cores_per_tile

    def core_specs(self) -> tuple:
        """Every core type: ``core`` first, then ``core_types`` in file order."""
        return (self.core,) + tuple(spec for _, spec in self.core_types)

    def core_type_names(self) -> tuple:
        return ("core",) + tuple(name for name, _ in self.core_types)

    def core_type_of(self) -> np.ndarray:
        """Core type of every core (index into :meth:`core_specs`): int64 ``(n_cores,)``."""
        if not self.tile_types:
            return np.zeros(self.n_cores, dtype=np.int64)
        return np.repeat(np.asarray(self.tile_types, dtype=np.int64), self.cores_per_tile)

    def core_latency_ps(self, ops) -> np.ndarray:
        """Latency of each of ``ops`` (keys of ``latency_ps``, optional ones falling back as
        :data:`OPTIONAL_CORE_OPS` say) on every core, by the core's type: int64 ps
        ``(n_cores, len(ops))``. Every row is the ``core`` type's on a chip of one type."""
        def row(spec):
            lat = spec.latency_ps
            return [lat[op] if op in lat else lat[_OPTIONAL_FALLBACK[op]] for op in ops]
        per_type = np.array([row(spec) for spec in self.core_specs()],
                            dtype=np.int64).reshape(-1, len(ops))
        return np.ascontiguousarray(per_type[self.core_type_of()])

    def with_core(self, spec: CoreSpec) -> ChipSpec:
        """This chip as if every core were ``spec`` (a view for per-type computations)."""
        import dataclasses
        return dataclasses.replace(self, core=spec, core_types=(), tile_types=())

    def core_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Tile coordinates of every core: two int32 arrays of shape ``(n_cores,)``."""
        tile = np.arange(self.n_cores, dtype=np.int32) // self.cores_per_tile
        return (tile % self.width).astype(np.int32), (tile // self.width).astype(np.int32)

    def summary(self) -> str:
        """A few lines for ``aersim info`` and ``aersim chips NAME``."""
        c, n = self.core, self.noc
        lines = [
            f"chip {self.name}: {self.width}x{self.height} {self.topology} of tiles, "
            f"{self.cores_per_tile} cores/tile = {self.n_cores} cores, "
            f"{c.neurons} neurons/core, mode {self.execution_mode}",
            f"  {self.description}" if self.description else "",
            "  per operation (pJ / ns): " + ", ".join(
                f"{k} {c.energy_pj[k]:g}/{c.latency_ps[k] / 1000:g}" for k in CORE_OPS),
            f"  hop E-W {n.hop_energy_pj['east_west']:g} pJ/"
            f"{n.hop_latency_ps['east_west'] / 1000:g}"
            f" ns, N-S {n.hop_energy_pj['north_south']:g} pJ/"
            f"{n.hop_latency_ps['north_south'] / 1000:g} ns, router {n.router_energy_pj:g} pJ/"
            f"{n.router_latency_ps / 1000:g} ns, {n.packet_bits}-bit packets",
            f"  barrier {self.barrier_latency_ps / 1000:g} ns, static {self.static_power_w:g} W",
        ]
        if c.sram is not None:
            lines.insert(-1, f"  sram {c.sram.size_bytes // 1024} KB x {c.sram.word_bits}-bit "
                             f"words: read {c.sram.read_energy_pj:.3g} pJ, write "
                             f"{c.sram.write_energy_pj:.3g} pJ, leakage {c.sram.leakage_mw:.3g} mW"
                             f"/core" + ("" if c.crossbar is not None else
                                         f"; {c.synapse_format} synapses, {c.weight_bits}-bit "
                                         "weights"))
        if c.crossbar is not None:
            x = c.crossbar
            lines.insert(-1, f"  crossbar {x.name}: {x.rows}x{x.columns}, "
                             f"{c.crossbars_per_core or 'unlimited'} per core, ADC {x.adc_bits} b "
                             f"{x.adc_energy_pj:g} pJ, DAC {x.dac_energy_pj:g} pJ")
        for (name, spec), k in zip(self.core_types, range(1, 1 + len(self.core_types)),
                                   strict=True):
            tiles = sum(1 for t in self.tile_types if t == k)
            lines.insert(-1, f"  core type {name}: {tiles} tiles, {spec.neurons} neurons/core, "
                             + ("crossbar " + spec.crossbar.name if spec.crossbar is not None
                                else "digital") + ", per operation (pJ): " + ", ".join(
                                 f"{op} {spec.energy_pj[op]:g}" for op in CORE_OPS))
        if n.contention:
            lines.insert(-1, f"  contention: {n.flits} flit(s)/packet, "
                             f"{n.cycle_ps / 1000:g} ns/flit/link, {n.buffer_flits}-flit input "
                             f"buffers, {n.routing}")
        return "\n".join(line for line in lines if line)


# ----------------------------------------------------------------------------------------------
# Schema. Each leaf is (kind, required, check, what-is-allowed). Kinds: int, float, str, dict.

def _pos(x):
    return x > 0


def _nonneg(x):
    return x >= 0


#: Largest latency a chip or system file may give (ns): one second. Times are int64 ps, and a
#: step or a route adds many latencies; a value past this is a typo, not a chip.
MAX_LATENCY_NS = 1e9


def _latency(x):
    return 0 <= x <= MAX_LATENCY_NS


_LATENCY = ">= 0 and at most 1e9 (one second)"


_OPS_SCHEMA = {**{op: ("float", True, _nonneg, ">= 0") for op in CORE_OPS},
               **{op: ("float", False, _nonneg, ">= 0") for op in OPTIONAL_CORE_OPS}}
#: ``core.energy_pj.neuron_update_event``: the price of a neuron update in ``async`` mode (one
#: touched neuron per event instant) when it differs from the per-step ``neuron_update``.
_ENERGY_SCHEMA = {**_OPS_SCHEMA, "neuron_update_event": ("float", False, _nonneg, ">= 0")}
_DIR_SCHEMA = {d: ("float", True, _nonneg, ">= 0") for d in ("east_west", "north_south")}
_LATENCY_SCHEMA = {op: (kind, required, _latency, _LATENCY)
                   for op, (kind, required, _, _) in _OPS_SCHEMA.items()}
_DIR_LATENCY_SCHEMA = {d: ("float", True, _latency, _LATENCY) for d in ("east_west", "north_south")}

SCHEMA = {
    "name": ("str", True, None, "a name"),
    "description": ("str", False, None, "text"),
    "execution_mode": ("str", True, lambda s: s in EXECUTION_MODES, f"one of {EXECUTION_MODES}"),
    "mesh": {
        "width": ("int", True, _pos, "an integer >= 1"),
        "height": ("int", True, _pos, "an integer >= 1"),
        "cores_per_tile": ("int", True, _pos, "an integer >= 1"),
        "topology": ("str", False, lambda s: s in TOPOLOGIES, f"one of {TOPOLOGIES}"),
    },
    "core": {
        "neurons": ("int", True, _pos, "an integer >= 1"),
        "synapses": ("int", False, _nonneg, "an integer >= 0 (0 = unlimited)"),
        "energy_pj": _ENERGY_SCHEMA,
        "latency_ns": _LATENCY_SCHEMA,
    },
    "noc": {
        "hop_energy_pj": _DIR_SCHEMA,
        "hop_latency_ns": _DIR_LATENCY_SCHEMA,
        "router_energy_pj": ("float", True, _nonneg, ">= 0"),
        "router_latency_ns": ("float", True, _latency, _LATENCY),
        "packet_bits": ("int", True, _pos, "an integer >= 1"),
        "contention": ("bool", False, None, "true or false"),
        "cycle_ns": ("float", False, _pos, "> 0 (one flit per cycle per link)"),
        "link_bandwidth_flits_per_ns": ("float", False, _pos, "> 0"),
        "flit_bits": ("int", False, _pos, "an integer >= 1"),
        "buffer_flits": ("int", False, _pos, "an integer >= 1"),
        "routing": ("str", False, lambda s: s in ROUTINGS, f"one of {ROUTINGS}"),
        "routing_table_entries": ("int", False, _pos, "an integer >= 1"),
        "congestion": ("str", False, lambda s: s in CONGESTION_MODELS,
                       f"one of {CONGESTION_MODELS}"),
        "virtual_channels": ("int", False, _pos, "an integer >= 1 (FIFOs per input port)"),
    },
    "barrier": {
        "latency_ns": ("float", False, _latency, _LATENCY),
        "energy_pj": ("float", False, _nonneg, ">= 0"),
        "latency_by_tiles_ns": ("dict", False, None, "a mapping {tiles in use: ns}"),
        "energy_by_tiles_pj": ("dict", False, None, "a mapping {tiles in use: pJ}"),
    },
    "static_power_w": ("float", True, _nonneg, ">= 0"),
    "power_gating": ("bool", False, None, "true (cores and tiles without neurons draw no "
                                          "static power) or false"),
    "sources": ("dict", False, None, "a mapping of key path to citation"),
}

#: Optional ``core`` keys for memories and per-core limits (absent: a digital core without an
#: SRAM model and without these limits). Kept apart from :data:`SCHEMA`, whose key paths are the
#: sweepable chip axes.
CORE_MEMORY_SCHEMA = {
    "crossbar": ("dict", False, None, "a mapping: preset and CrossbarSpec fields"),
    "sram": ("dict", False, None, "a mapping (see SRAM_SCHEMA)"),
    "synapse_format": ("str", False, lambda s: s in SYNAPSE_FORMATS,
                       f"one of {SYNAPSE_FORMATS}"),
    "weight_bits": ("int", False, lambda x: 1 <= x <= 64, "an integer in 1 .. 64"),
    "index_bits": ("int", False, lambda x: 0 <= x <= 64, "an integer in 0 .. 64"),
    "crossbars_per_core": ("int", False, _nonneg, "an integer >= 0 (0 = unlimited)"),
    "max_fan_in": ("int", False, _nonneg, "an integer >= 0 (0 = unlimited)"),
    "max_fan_out": ("int", False, _nonneg, "an integer >= 0 (0 = unlimited)"),
    "receive": ("str", False, lambda s: s in RECEIVE_MODES, f"one of {RECEIVE_MODES}"),
    "send_order": ("str", False, lambda s: s in SEND_ORDERS, f"one of {SEND_ORDERS}"),
}
_FULL_SCHEMA = dict(
    SCHEMA, core={**SCHEMA["core"], **CORE_MEMORY_SCHEMA},
    core_types=("dict", False, None, "a mapping {type name: core keys that differ from core}"),
    regions=("list", False, None, "a list of {type: NAME, x: [first, last], y: [first, last]}"))


#: ``core.sram``: either CACTI form (``size_kb`` and optionally ``word_bits``, ``flavour``,
#: ``node_nm``, ``write_factor``; costs from :func:`hardware.sram.sram_from_cacti`) or explicit
#: form (``size_kb``, ``word_bits``, ``read_energy_pj``, ``leakage_mw`` and optionally
#: ``write_energy_pj`` (default: the read energy), ``access_latency_ns``, ``area_mm2``).
SRAM_CACTI_KEYS = ("flavour", "node_nm", "write_factor")
SRAM_EXPLICIT_KEYS = ("read_energy_pj", "write_energy_pj", "access_latency_ns", "leakage_mw",
                      "area_mm2")
SRAM_SCHEMA = {
    "size_kb": ("float", True, _pos, "a size in KB > 0"),
    "word_bits": ("int", False, lambda x: x >= 8 and x % 8 == 0, "a multiple of 8 bits"),
    "flavour": ("str", False, None, "'hp', 'lop' or 'lstp'"),
    "node_nm": ("float", False, _pos, "a node in nm (22 .. 45)"),
    "write_factor": ("float", False, _nonneg, ">= 0"),
    **{k: ("float", False, _nonneg, ">= 0") for k in SRAM_EXPLICIT_KEYS},
}


def _sram(section: dict, where: str) -> SramSpec:
    """The ``core.sram`` section as an :class:`SramSpec` (CACTI or explicit form)."""
    d = _validate(section, SRAM_SCHEMA, where, "core.sram")
    explicit = [k for k in SRAM_EXPLICIT_KEYS if k in d]
    cacti = [k for k in SRAM_CACTI_KEYS if k in d]
    if explicit and cacti:
        raise ChipSpecError(f"{where}: core.sram mixes CACTI keys ({', '.join(cacti)}) with "
                            f"explicit costs ({', '.join(explicit)}); give size_kb with either "
                            "flavour/node_nm/write_factor or read_energy_pj/leakage_mw/...")
    if not explicit:
        try:
            return sram_from_cacti(d["size_kb"], d.get("word_bits", 32), d.get("flavour", "lop"),
                                   d.get("node_nm", 22), d.get("write_factor", 1.0))
        except ChipSpecError as exc:
            raise ChipSpecError(f"{where}: core.{exc}") from None
    for key in ("word_bits", "read_energy_pj", "leakage_mw"):
        if key not in d:
            raise ChipSpecError(f"{where}: missing key 'core.sram.{key}' (explicit SRAM costs "
                                "need size_kb, word_bits, read_energy_pj and leakage_mw)")
    size_bytes = d["size_kb"] * 1024
    if not float(size_bytes).is_integer():
        raise ChipSpecError(f"{where}: core.sram.size_kb = {section['size_kb']!r} is not a whole "
                            "number of bytes; expected a multiple of 1/1024 KB")
    return SramSpec(size_bytes=int(size_bytes), word_bits=d["word_bits"],
                    read_energy_pj=d["read_energy_pj"],
                    write_energy_pj=d.get("write_energy_pj", d["read_energy_pj"]),
                    access_latency_ns=d.get("access_latency_ns", 0.0),
                    leakage_mw=d["leakage_mw"], area_mm2=d.get("area_mm2", 0.0),
                    source=f"{where}: core.sram (explicit)")


def _core(core: dict, where: str) -> CoreSpec:
    """The validated ``core`` section as a :class:`CoreSpec`, with the optional memory parts."""
    crossbar = (crossbar_from_dict(core["crossbar"], f"{where}: core.crossbar")
                if "crossbar" in core else None)
    sram = _sram(core["sram"], where) if "sram" in core else None
    fmt = core.get("synapse_format", "sparse")
    if crossbar is not None and "synapse_format" in core:
        raise ChipSpecError(f"{where}: core.synapse_format = {fmt!r} is not allowed with "
                            "core.crossbar (the synapses live in the crossbar tiles); remove one")
    if "crossbars_per_core" in core and crossbar is None:
        raise ChipSpecError(f"{where}: core.crossbars_per_core = {core['crossbars_per_core']!r} "
                            "needs a core.crossbar section (e.g. crossbar: {preset: pcm_aihwkit})")
    # A sparse entry names its target neuron inside the core: log2(neurons) bits by default.
    index_bits = core.get("index_bits", max(1, int(core["neurons"] - 1).bit_length()))
    energy, latency = dict(core["energy_pj"]), dict(core["latency_ns"])
    priced = tuple(op for op in OPTIONAL_CORE_OPS if op in energy or op in latency)
    for op in OPTIONAL_CORE_OPS:
        energy.setdefault(op, energy[_OPTIONAL_FALLBACK[op]])
        latency.setdefault(op, latency[_OPTIONAL_FALLBACK[op]])
    return CoreSpec(neurons=core["neurons"], synapses=core.get("synapses", 0),
                    energy_pj=energy,
                    latency_ps={k: ns_to_ps(v) for k, v in latency.items()},
                    crossbar=crossbar, sram=sram, synapse_format=fmt,
                    weight_bits=core.get("weight_bits", 8), index_bits=index_bits,
                    crossbars_per_core=core.get("crossbars_per_core", 0),
                    max_fan_in=core.get("max_fan_in", 0),
                    max_fan_out=core.get("max_fan_out", 0),
                    receive=core.get("receive", "serial"), priced=priced,
                    send_order=core.get("send_order", "row_major"))


def _validate(data, schema, where: str, path: str) -> dict:
    """Check ``data`` against ``schema``; return it with numbers converted."""
    if not isinstance(data, dict):
        raise ChipSpecError(f"{where}: {path or 'top level'} must be a mapping, got "
                            f"{type(data).__name__}")
    out = {}
    for key in data:
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ChipSpecError(f"{where}: unknown key {_join(path, key)!r}{hint} "
                                f"(allowed: {', '.join(schema)})")
    for key, rule in schema.items():
        kp = _join(path, key)
        if isinstance(rule, dict):
            if key not in data:
                raise ChipSpecError(f"{where}: missing section {kp!r} (keys: {', '.join(rule)})")
            out[key] = _validate(data[key], rule, where, kp)
            continue
        kind, required, check, allowed = rule
        if key not in data:
            if required:
                raise ChipSpecError(f"{where}: missing key {kp!r} ({allowed})")
            continue
        value = data[key]
        try:
            if kind == "int":
                if isinstance(value, bool) or not float(value).is_integer():
                    raise ValueError
                value = int(value)
            elif kind == "float":
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
                if not np.isfinite(value):
                    raise ValueError
            elif kind == "str" and not isinstance(value, str):
                raise ValueError
            elif kind == "bool" and not isinstance(value, bool):
                raise ValueError
            elif kind == "dict" and not isinstance(value, dict):
                raise ValueError
            elif kind == "list" and not isinstance(value, list):
                raise ValueError
        except (TypeError, ValueError):
            raise ChipSpecError(f"{where}: {kp} = {data[key]!r} is not valid; expected "
                                f"{allowed}") from None
        if check is not None and not check(value):
            raise ChipSpecError(f"{where}: {kp} = {data[key]!r} is not allowed; expected {allowed}")
        out[key] = value
    return out


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _noc_contention(noc: dict, where: str) -> dict:
    """The contention fields of a validated ``noc`` section, with the cross-key rules."""
    if "cycle_ns" in noc and "link_bandwidth_flits_per_ns" in noc:
        raise ChipSpecError(f"{where}: give noc.cycle_ns or noc.link_bandwidth_flits_per_ns, "
                            "not both (one flit per cycle per link)")
    if "cycle_ns" in noc:
        cycle_ps = ns_to_ps(noc["cycle_ns"])
    elif "link_bandwidth_flits_per_ns" in noc:
        cycle_ps = int(round(1000.0 / noc["link_bandwidth_flits_per_ns"]))
    else:
        cycle_ps = 0
    out = {"contention": noc.get("contention", False), "cycle_ps": cycle_ps,
           "flit_bits": noc.get("flit_bits", 0), "buffer_flits": noc.get("buffer_flits", 0),
           "routing": noc.get("routing", "unicast"),
           "routing_table_entries": noc.get("routing_table_entries", 0),
           "virtual_channels": noc.get("virtual_channels", 1)}
    if not out["contention"]:
        return out
    if cycle_ps <= 0:
        raise ChipSpecError(f"{where}: noc.contention is true but the link speed is missing or "
                            "rounds to 0 ps; give noc.cycle_ns (or "
                            "noc.link_bandwidth_flits_per_ns), e.g. cycle_ns: 1.0")
    for key in ("flit_bits", "buffer_flits"):
        if not out[key]:
            raise ChipSpecError(f"{where}: noc.contention is true but noc.{key} is missing "
                                "(an integer >= 1)")
    flits = -(-noc["packet_bits"] // out["flit_bits"])
    if out["buffer_flits"] < flits:
        raise ChipSpecError(f"{where}: noc.buffer_flits = {out['buffer_flits']} cannot hold one "
                            f"packet of {flits} flits (packet_bits {noc['packet_bits']} / "
                            f"flit_bits {out['flit_bits']}, rounded up); use buffer_flits >= "
                            f"{flits}")
    if noc["router_latency_ns"] <= 0 or min(noc["hop_latency_ns"].values()) <= 0:
        raise ChipSpecError(f"{where}: noc.contention needs router_latency_ns and every "
                            "hop_latency_ns > 0 (simultaneous arbitration is defined for "
                            "positive latencies)")
    return out


def _tile_table(table: dict, where: str, key: str) -> dict:
    """``{tiles: value}`` of a barrier table, validated (tiles >= 1, values finite >= 0;
    latencies at most :data:`MAX_LATENCY_NS`)."""
    out = {}
    most = MAX_LATENCY_NS if key.endswith("_ns") else np.inf
    for tiles, value in table.items():
        try:
            n = int(tiles)
            v = float(value)
            if n != float(tiles) or n < 1 or isinstance(value, bool) or not v >= 0 or \
                    not np.isfinite(v) or v > most:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            bound = " and at most 1e9 (one second)" if most < np.inf else ""
            raise ChipSpecError(f"{where}: barrier.{key} has entry {tiles!r}: {value!r}; "
                                f"expected {{tiles in use (integer >= 1): value >= 0{bound}}}"
                                ) from None
        out[n] = v
    if not out:
        raise ChipSpecError(f"{where}: barrier.{key} is empty; give at least one entry")
    return out


def _barrier(barrier: dict, where: str) -> tuple[int, float, tuple]:
    """Constant barrier ``(latency_ps, energy_pj)`` and the by-tiles table (may be empty)."""
    lat = barrier.get("latency_by_tiles_ns")
    en = barrier.get("energy_by_tiles_pj")
    if lat is None and "latency_ns" not in barrier:
        raise ChipSpecError(f"{where}: missing key 'barrier.latency_ns' (or "
                            "barrier.latency_by_tiles_ns)")
    if lat is not None and "latency_ns" in barrier:
        raise ChipSpecError(f"{where}: give barrier.latency_ns or barrier.latency_by_tiles_ns, "
                            "not both")
    if en is not None and "energy_pj" in barrier:
        raise ChipSpecError(f"{where}: give barrier.energy_pj or barrier.energy_by_tiles_pj, "
                            "not both")
    lat = _tile_table(lat, where, "latency_by_tiles_ns") if lat is not None else None
    en = _tile_table(en, where, "energy_by_tiles_pj") if en is not None else None
    const_lat = ns_to_ps(barrier.get("latency_ns", 0.0))
    const_en = barrier.get("energy_pj", 0.0)
    if lat is None and en is None:
        return const_lat, const_en, ()
    keys = sorted(set(lat or {}) | set(en or {}))

    def at(table, n, const):
        if table is None:
            return const
        below = [k for k in table if k <= n]
        return table[max(below)] if below else table[min(table)]

    rows = tuple((n, ns_to_ps(at(lat, n, None)) if lat is not None else const_lat,
                  at(en, n, const_en)) for n in keys)
    # The constants describe the largest entry (the whole chip).
    return rows[-1][1], rows[-1][2], rows


def chip_from_dict(data: dict, where: str = "<dict>") -> ChipSpec:
    """Validate a chip description (as parsed from YAML) and build the :class:`ChipSpec`."""
    d = _validate(data, _FULL_SCHEMA, where, "")
    core, noc, mesh = d["core"], d["noc"], d["mesh"]
    contention = _noc_contention(noc, where)
    congestion = noc.get("congestion", "none")
    if congestion != "none" and core.get("receive", "serial") != "concurrent":
        raise ChipSpecError(f"{where}: noc.congestion = {congestion!r} needs "
                            "core.receive: concurrent (the flow estimate runs on the "
                            "concurrent receive timeline)")
    if core.get("receive", "serial") == "concurrent" and contention["contention"]:
        raise ChipSpecError(f"{where}: core.receive: concurrent is not modelled together with "
                            "noc.contention: true; use contention: false (optionally with "
                            "congestion: flow) or receive: serial")
    if congestion == "flow" and not contention["buffer_flits"]:
        raise ChipSpecError(f"{where}: noc.congestion = 'flow' needs noc.buffer_flits (the "
                            "messages one link buffers, an integer >= 1)")
    bar_lat, bar_en, bar_table = _barrier(d["barrier"], where)
    core_types, tile_types = _core_types(data, d, where)
    return ChipSpec(
        name=d["name"], description=d.get("description", ""),
        width=mesh["width"], height=mesh["height"], cores_per_tile=mesh["cores_per_tile"],
        topology=mesh.get("topology", "mesh"), execution_mode=d["execution_mode"],
        core=_core(core, where),
        noc=NocSpec(hop_energy_pj=dict(noc["hop_energy_pj"]),
                    hop_latency_ps={k: ns_to_ps(v) for k, v in noc["hop_latency_ns"].items()},
                    router_energy_pj=noc["router_energy_pj"],
                    router_latency_ps=ns_to_ps(noc["router_latency_ns"]),
                    packet_bits=noc["packet_bits"], congestion=congestion, **contention),
        barrier_latency_ps=bar_lat, barrier_energy_pj=bar_en,
        static_power_w=d["static_power_w"], sources=dict(d.get("sources", {})), path=where,
        barrier_table=bar_table, power_gating=d.get("power_gating", True),
        core_types=core_types, tile_types=tile_types)


def _core_types(data: dict, d: dict, where: str) -> tuple[tuple, tuple]:
    """Mixed tiles: the ``core_types`` (each the ``core`` section with its own keys on top) and
    the type of every tile from ``regions`` (later regions win where two overlap)."""
    types = d.get("core_types") or {}
    regions = d.get("regions") or []
    if regions and not types:
        raise ChipSpecError(f"{where}: regions needs core_types (the types the regions name)")
    out = []
    for name, section in types.items():
        key = f"core_types.{name}"
        if not isinstance(section, dict):
            raise ChipSpecError(f"{where}: {key} must be a mapping of core keys, got "
                                f"{type(section).__name__}")
        merged = dict(data["core"])
        for k in ("energy_pj", "latency_ns"):
            if k in section:
                if not isinstance(section[k], dict):
                    raise ChipSpecError(f"{where}: {key}.{k} must be a mapping")
                merged[k] = {**data["core"].get(k, {}), **section[k]}
        merged.update({k: v for k, v in section.items() if k not in ("energy_pj", "latency_ns")})
        if "crossbar" in section:
            # Crossbar synapses live in the crossbar: the digital storage keys do not carry over.
            for k in ("synapse_format", "index_bits"):
                if k not in section:
                    merged.pop(k, None)
        checked = _validate(merged, _FULL_SCHEMA["core"], where, key)
        if checked.get("receive", "serial") != d["core"].get("receive", "serial"):
            raise ChipSpecError(f"{where}: {key}.receive must match core.receive (one receive "
                                "model per chip)")
        out.append((str(name), _core(checked, f"{where}: {key}")))
    names = [n for n, _ in out]
    w, h = d["mesh"]["width"], d["mesh"]["height"]
    tile = [0] * (w * h)
    for i, region in enumerate(regions):
        key = f"regions[{i}]"
        if not isinstance(region, dict) or set(region) - {"type", "x", "y"} or \
                "type" not in region:
            raise ChipSpecError(f"{where}: {key} must be {{type: NAME, x: [first, last], y: "
                                "[first, last]}")
        if region["type"] not in names:
            raise ChipSpecError(f"{where}: {key}.type = {region['type']!r} is not a core type; "
                                f"known: {', '.join(names)}")
        span = {}
        for axis, size in (("x", w), ("y", h)):
            r = region.get(axis, [0, size - 1])
            if not (isinstance(r, list) and len(r) == 2 and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in r)
                    and 0 <= r[0] <= r[1] < size):
                raise ChipSpecError(f"{where}: {key}.{axis} = {r!r} is not allowed; expected "
                                    f"[first, last] tiles with 0 <= first <= last < {size}")
            span[axis] = r
        k = names.index(region["type"]) + 1
        for y in range(span["y"][0], span["y"][1] + 1):
            for x in range(span["x"][0], span["x"][1] + 1):
                tile[y * w + x] = k
    if out and not regions:
        raise ChipSpecError(f"{where}: core_types needs regions (which tiles hold each type)")
    return tuple(out), tuple(tile) if out else ()


#: Limits of a chip (or sweep) YAML file: bytes of text, alias uses, nodes after expanding
#: aliases, nesting depth. Real chip files are a few kB with no aliases; the limits stop "billion
#: laughs" files (nested anchors that expand exponentially) and runaway nesting.
YAML_MAX_BYTES = 1 << 20
YAML_MAX_ALIASES = 256
YAML_MAX_NODES = 100_000
YAML_MAX_DEPTH = 64


class YamlInputError(ValueError):
    """A YAML text that :func:`load_yaml` refuses; the message says where and why."""


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys and limits aliases, size and depth."""

    def compose_document(self):
        node = super().compose_document()
        _check_graph(node, self)
        return node

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found an unhashable key", key_node.start_mark) from None
            if key in seen:
                raise YamlInputError(f"key {key!r} appears twice in one mapping (lines "
                                     f"{seen[key] + 1} and {key_node.start_mark.line + 1}); "
                                     "remove one")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _check_graph(root, loader) -> None:
    """Count nodes with aliases expanded (memoised, so the count itself is cheap) and depth."""
    sizes: dict[int, int] = {}
    aliases = 0

    def size(node, depth):
        nonlocal aliases
        if depth > YAML_MAX_DEPTH:
            raise YamlInputError(f"nesting deeper than {YAML_MAX_DEPTH} levels at line "
                                 f"{node.start_mark.line + 1}")
        key = id(node)
        if key in sizes:
            aliases += 1
            if aliases > YAML_MAX_ALIASES:
                raise YamlInputError(f"more than {YAML_MAX_ALIASES} uses of anchors (aliases)")
            return sizes[key]
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v, depth + 1) for v in node.value)
        else:
            n = 1
        if n > YAML_MAX_NODES:
            raise YamlInputError(f"more than {YAML_MAX_NODES} values once anchors are expanded "
                                 f"(at line {node.start_mark.line + 1}); is it a YAML bomb?")
        sizes[key] = n
        return n

    if root is not None:
        size(root, 0)


def read_yaml_file(path) -> str:
    """The text of a YAML file, refused if it is too large, binary, or not UTF-8.

    Raises
    ------
    YamlInputError
        Too large, contains NUL bytes, or not UTF-8 (names the byte offset).
    OSError
        The file cannot be read.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        data = fh.read(YAML_MAX_BYTES + 1)
    if len(data) > YAML_MAX_BYTES:
        raise YamlInputError(f"larger than {YAML_MAX_BYTES} bytes; a chip or sweep file is a few "
                             "kB of text")
    nul = data.find(b"\0")
    if nul >= 0:
        raise YamlInputError(f"a binary file, not YAML text (NUL byte at offset {nul})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlInputError(f"not UTF-8 text (byte offset {exc.start})") from None


def load_yaml(text: str):
    """Parse YAML text safely: plain data only, duplicate keys refused, aliases and size limited.

    Raises
    ------
    YamlInputError
        A limit is exceeded or a key repeats.
    yaml.YAMLError
        Invalid YAML.
    """
    if len(text) > YAML_MAX_BYTES:
        raise YamlInputError(f"larger than {YAML_MAX_BYTES} characters")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise YamlInputError("nested too deeply to parse") from None


def yaml_error_text(exc: Exception) -> str:
    """One line for a :func:`load_yaml` / :func:`read_yaml_file` error."""
    if isinstance(exc, YamlInputError):
        return str(exc)
    mark = getattr(exc, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML{at}: {getattr(exc, 'problem', None) or exc}"


def preset_names() -> list[str]:
    """Names of the chip presets bundled with aersim."""
    folder = resources.files("aersim.hardware") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_chip(name_or_path: str | Path) -> ChipSpec:
    """Load a bundled preset by name (see :func:`preset_names`) or a chip YAML file by path.

    A file with a ``boards`` section describes a system of chips and loads as a
    :class:`hardware.system.SystemSpec` (a ``ChipSpec`` too).

    Raises
    ------
    ChipSpecError
        Unknown preset, unreadable file, YAML syntax error or an invalid description; the message
        names the file and the key path.
    """
    text_name = str(name_or_path)
    if text_name in preset_names():
        ref = resources.files("aersim.hardware") / "presets" / f"{text_name}.yaml"
        where, text = f"preset {text_name!r}", ref.read_text(encoding="utf-8")
    else:
        path = Path(text_name)
        if not path.suffix and not path.exists():
            raise ChipSpecError(f"unknown chip {text_name!r}; presets are "
                                f"{', '.join(preset_names())}, or give a path to a .yaml file")
        where = str(path)
        try:
            text = read_yaml_file(path)
        except YamlInputError as exc:
            raise ChipSpecError(f"chip file {where}: {exc}") from None
        except OSError as exc:
            raise ChipSpecError(f"cannot read chip file {text_name}: "
                                f"{exc.strerror or exc}") from None
    try:
        data = load_yaml(text)
    except (yaml.YAMLError, YamlInputError) as exc:
        raise ChipSpecError(f"{where}: {yaml_error_text(exc)}") from None
    if isinstance(data, dict) and "boards" in data:
        from aersim.hardware.system import system_from_dict
        base = None if text_name in preset_names() else Path(text_name).resolve().parent
        return system_from_dict(data, where, base)
    return chip_from_dict(data, where)
