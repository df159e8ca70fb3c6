"""The build step: a Network, a ChipSpec and a Mapping become flat arrays for the engines.

Everything the hot loop touches is a contiguous array in one of three named tuples:

- :class:`NeuronTables` — per neuron: model kind, core, parameters (structure of arrays);
- :class:`SynapseTables` — the fan-out of every neuron, grouped the way the hardware sends it:
  a neuron's outgoing synapses are taken in (destination core, delay) order. A run of equal
  (core, delay) is a *segment*; the segments of one core are a *message* (unicast: one message
  per destination core per spike). A message's synapses are its segments' synapses.
- :class:`ChipTables` — core coordinates and the per-operation latencies in picoseconds.

Per synapse the engine keeps 8 bytes (int32 target, float32 weight), or nothing when it reads
the network's own arrays in place; segments and messages cost per (neuron, destination core),
not per synapse (docs/engine.md, Memory).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from aersim.hardware.errors import MappingError
from aersim.hardware.noc import multicast_trees, routing_table_entries
from aersim.models import memory
from aersim.models.neurons.registry import (
    N_PARAMS,
    code_of,
    kind_codes,
    model_for_kind,
    timestep_only_kinds,
)
from aersim.simcore.engine.message_tables import (  # noqa: F401 - CLINK_* re-exported
    CLINK_BITS,
    CLINK_BUSY_PS,
    CLINK_LEN,
    CLINK_PACKETS,
    barrier_for_cores,
    chip_link_table,
    message_storage,
    receive_work_ps,
    send_order,
    system_tables,
)
from aersim.simcore.engine.synapse_tables import fan_out_tables, reads_in_place
from aersim.simcore.errors import ConfigError

#: Engine codes of the built-in models (``models.neurons.registry`` holds every model).
KIND_INPUT, KIND_LIF, KIND_IF, KIND_CUBA, KIND_ALIF, KIND_SIGMA_DELTA, KIND_LOIHI, KIND_EGRU = (
    code_of(name) for name in ("source", "lif", "integrator", "cuba", "alif", "sigma_delta",
                               "loihi_cuba", "egru"))
#: Engine code of every neuron ``kind`` tag, from the model table.
MODEL_KINDS = kind_codes()
#: Models whose dynamics are defined per time step only (no event-driven form).
TIMESTEP_ONLY = timestep_only_kinds()
#: Delays and segment sort keys pack (core << DELAY_BITS | delay_ps); 2**40 ps is about 1.1 s.
DELAY_BITS = 40
MAX_DELAY_PS = (1 << DELAY_BITS) - 1


class NeuronTables(NamedTuple):
    """Per-neuron arrays, all of shape ``(n_neurons,)``; float64 unless noted."""

    kind: np.ndarray       # int8, KIND_*
    core: np.ndarray       # int32, core of the neuron
    upd_rank: np.ndarray   # int64, updatable neurons of the same core with id <= this one
    tau_s: np.ndarray      # membrane time constant tau_m (s); 1 where unused
    tau_syn_s: np.ndarray  # synaptic time constant (s), CuBa only; 1 elsewhere
    v_inf: np.ndarray      # resting value with bias: v_leak + r * bias (LIF), + r * i_inf (CuBa)
    drift: np.ndarray      # r * bias, volts per second (IF, integrator)
    v_leak: np.ndarray
    r: np.ndarray
    i_inf: np.ndarray      # w_in * bias (CuBa)
    v_th: np.ndarray       # +inf for non-spiking models
    v_reset: np.ndarray
    gain: np.ndarray       # input_gain
    t_ref_ps: np.ndarray   # int64, refractory period (ps)
    subtract: np.ndarray   # bool, reset by subtraction
    euler: np.ndarray      # bool, forward-Euler integration (timestep mode)
    cuba_order: np.ndarray  # int8 CuBa step order (models.neurons.cuba.ORDER_CODES)
    v_init: np.ndarray
    i_init: np.ndarray     # initial second state: CuBa i, ALIF a, sigma-delta sigma, Loihi u
    beta: np.ndarray       # ALIF: threshold v_th + beta * a
    bias: np.ndarray       # ALIF, sigma-delta: constant input; Loihi: b_m << b_e (integer)
    reset_code: np.ndarray  # int8 ALIF: 0 subtract v_th, 1 subtract v_th + beta a, 2 to v_reset
    late_reset: np.ndarray  # bool: the reset acts one step after the spike (ALIF e-prop;
    #                         LIF/IF/CuBa with reset_timing="next_step", snnTorch)
    no_reset: np.ndarray   # bool: a spike leaves the membrane as it is (reset="none")
    threshold_ge: np.ndarray  # bool: spike when v >= v_th (else v > v_th)
    spike_count: np.ndarray   # bool: a spike carries floor(v / v_th) (timestep mode)
    max_count: np.ndarray     # cap of that count (inf: none)
    v_min: np.ndarray         # floor of the membrane after the reset (-inf: none)
    relu: np.ndarray       # bool sigma-delta: ReLU activation (else identity)
    cum_error: np.ndarray  # bool sigma-delta: send when the accumulated error reaches threshold
    d_u: np.ndarray        # Loihi 12-bit current decay D_u (integer-valued)
    d_v: np.ndarray        # Loihi 12-bit voltage decay D_v (integer-valued)
    weight_exp: np.ndarray  # int64 Loihi weight exponent
    hold_steps: np.ndarray  # int64 Loihi refractory hold steps; -1 elsewhere (t_ref_ps applies)
    graded: np.ndarray     # bool: spikes carry a value (sigma-delta, graded Loihi, EGRU)
    zoneout: np.ndarray    # EGRU inference zoneout p
    gate_bias: np.ndarray  # float64 (n, 6): EGRU bx_u, bx_r, bx_z, br_u, br_r, br_z
    slot0: np.ndarray      # int64: first input slot of the neuron (see input_slots)
    mp: np.ndarray         # float64 (n, N_PARAMS): parameters of table-run models
    #                        (models.neurons.registry); (0, N_PARAMS) when there are none


class SynapseTables(NamedTuple):
    """Fan-out of every neuron, in segments and messages (see module doc and
    :mod:`simcore.engine.synapse_tables` for the two layouts)."""

    target: np.ndarray       # int32 (n_syn,), input slot of synapse q: seg_slot0[g] + target[q]
    weight: np.ndarray       # float32 (n_syn,)
    seg_lo: np.ndarray       # int32 (n_seg + 1,), first synapse of each segment (int64 from
    #                          2**31 synapses on: synapse_tables.narrowest_int); [n_seg]: n_syn
    seg_hi: np.ndarray       # like seg_lo, (n_seg,): end of each segment (seg_lo[1:] when copied)
    seg_slot0: np.ndarray    # int32 (n_seg,), input slot of target 0 of the segment's synapses
    #                          (int64 from 2**31 slots on; zero when copied)
    seg_delay: np.ndarray    # int32 (n_seg,), the segment's delay: delay_ps[seg_delay[g]]
    delay_ps: np.ndarray     # int64 (n_delays,), the network's distinct delays (ps), ascending
    msg_ptr: np.ndarray      # int64 (n_neurons + 1,), messages of neuron i: msg_ptr[i]:msg_ptr[i+1]
    msg_core: np.ndarray     # int32 (n_msg,), destination core
    msg_seg_lo: np.ndarray   # int32 (n_msg + 1,), segments of message m: msg_seg_lo[m]:[m+1]
    #                          (int64 from 2**31 segments on)


#: Indices of ``NocState.cfg``. A system of chips numbers tiles globally (chip ``a``'s tiles
#: are ``a * width * height ..``); every router has ``4 + cores_per_tile + NOC_DEGREE`` ports,
#: the last ``NOC_DEGREE`` for the chip-to-chip links of the chip's port tile ``NOC_PORT_TILE``.
NOC_ON, NOC_MULTICAST, NOC_CYCLE_PS, NOC_FLITS, NOC_BUFFER, NOC_CPT, NOC_PORTS, NOC_WIDTH, \
    NOC_HEIGHT, NOC_TORUS, NOC_ROUTER_PS, NOC_HOP_EW_PS, NOC_HOP_NS_PS, NOC_VCS, NOC_CHIPS, \
    NOC_PORT_TILE, NOC_DEGREE = range(17)
NOC_CFG_LEN = 17
#: Columns of ``NocState.sys_links`` (row ``chip * NOC_DEGREE + k``: the chip's k-th link):
#: the global tile and input port the link enters, the delay from a grant to the head at that
#: router (link latency + serialisation + router), the link's busy time per packet
#: (serialisation), and for the chip's k-th *input* port, the upstream tile and output port.
SYS_DOWN_TILE, SYS_DOWN_PORT, SYS_DELAY_PS, SYS_BUSY_PS, SYS_UP_TILE, SYS_UP_PORT, \
    SYS_LINK = range(7)
#: Columns of ``NocState.link_stats``.
LINK_PACKETS, LINK_FLITS, LINK_BUSY_PS, LINK_MAX_QUEUE_FLITS, LINK_BLOCKED_PS = range(5)
#: ``NocState.meta``: free slots, next packet sequence number, packets injected, delivered.
META_FREE, META_SEQ, META_INJECTED, META_DELIVERED = range(4)


class NocState(NamedTuple):
    """The contention model's tables and mutable state (all int64).

    Ports and links are numbered ``tile * n_ports + port`` (``hardware.noc`` port numbering).
    """

    cfg: np.ndarray          # (NOC_CFG_LEN,), NOC_* values
    tree_ptr: np.ndarray     # (n_keys + 1,), multicast tree rows per key (empty for unicast)
    tree_tile: np.ndarray    # (n_rows,), sorted by tile within a key
    tree_mask: np.ndarray    # (n_rows,), outputs taken at that router
    tree_hops: np.ndarray    # (n_keys, 4), tree edges per direction (the key's hop counts)
    q_head: np.ndarray       # (n_ports_total * VCs,), first packet slot of each input FIFO, or -1
    q_tail: np.ndarray       # (n_ports_total * VCs,)
    port_free: np.ndarray    # (n_ports_total,), time the input port can start its next packet
    occ: np.ndarray          # (n_ports_total * VCs,), flits held in each VC's input buffer
    link_free: np.ndarray    # (n_ports_total,), time the output link is free
    blocked_since: np.ndarray  # (n_ports_total,), -1 or when the link began waiting for room
    arb_last: np.ndarray     # (n_tiles,), time of the last queued arbitration (-1: none)
    link_stats: np.ndarray   # (n_ports_total, 5), LINK_* counters
    p_next: np.ndarray       # (capacity,), next slot in the same FIFO
    p_ready: np.ndarray      # (capacity,), head arrives at the current router (ps)
    p_seq: np.ndarray        # (capacity,), packet sequence number (tiebreak)
    p_key: np.ndarray        # (capacity,), message index (unicast) or tree key (multicast)
    p_dest: np.ndarray       # (capacity,), destination core (unicast)
    p_flits: np.ndarray      # (capacity,)
    p_mask: np.ndarray       # (capacity,), outputs still to be granted at the current router
    free: np.ndarray         # (capacity,), stack of free slots
    meta: np.ndarray         # (4,), META_*
    sys_next: np.ndarray     # (n_chips * n_chips,), k of chip a's link toward chip b (-1: a == b)
    sys_links: np.ndarray    # (n_chips * NOC_DEGREE, 7), SYS_* columns


def new_noc_state(cfg, n_tiles: int, capacity: int, tree_ptr=None, tree_tile=None,
                  tree_mask=None, tree_hops=None, sys_next=None, sys_links=None) -> NocState:
    """An idle network with room for ``capacity`` packets in flight."""
    n = n_tiles * int(cfg[NOC_PORTS])
    nq = n * max(int(cfg[NOC_VCS]), 1)      # one FIFO per virtual channel of each input port
    capacity = max(int(capacity), 16)
    z = np.zeros(0, dtype=np.int64)
    return NocState(
        cfg=np.asarray(cfg, dtype=np.int64),
        tree_ptr=z.copy() if tree_ptr is None else tree_ptr, tree_tile=z if tree_tile is None
        else tree_tile, tree_mask=z if tree_mask is None else tree_mask,
        tree_hops=np.zeros((0, 4), np.int64) if tree_hops is None else tree_hops,
        q_head=np.full(nq, -1, np.int64), q_tail=np.full(nq, -1, np.int64),
        port_free=np.zeros(n, np.int64), occ=np.zeros(nq, np.int64),
        link_free=np.zeros(n, np.int64), blocked_since=np.full(n, -1, np.int64),
        arb_last=np.full(n_tiles, -1, np.int64), link_stats=np.zeros((n, 5), np.int64),
        p_next=np.full(capacity, -1, np.int64), p_ready=np.zeros(capacity, np.int64),
        p_seq=np.zeros(capacity, np.int64), p_key=np.zeros(capacity, np.int64),
        p_dest=np.zeros(capacity, np.int64), p_flits=np.zeros(capacity, np.int64),
        p_mask=np.zeros(capacity, np.int64),
        free=np.arange(capacity - 1, -1, -1, dtype=np.int64),
        meta=np.array([capacity, 0, 0, 0], dtype=np.int64),
        sys_next=np.zeros(0, np.int64) if sys_next is None else sys_next,
        sys_links=np.zeros((0, 7), np.int64) if sys_links is None else sys_links)


def grow_noc(noc: NocState, factor: int = 2) -> NocState:
    """A copy of ``noc`` with ``factor`` times the packet capacity (slots keep their numbers)."""
    cap = noc.p_next.shape[0]
    new_cap = cap * factor
    grown = {}
    for name in ("p_next", "p_ready", "p_seq", "p_key", "p_dest", "p_flits", "p_mask"):
        a = np.zeros(new_cap, dtype=np.int64)
        a[:cap] = getattr(noc, name)
        grown[name] = a
    n_free = int(noc.meta[META_FREE])
    free = np.zeros(new_cap, dtype=np.int64)
    extra = np.arange(new_cap - 1, cap - 1, -1, dtype=np.int64)
    free[:extra.size] = extra
    free[extra.size:extra.size + n_free] = noc.free[:n_free]
    meta = noc.meta.copy()
    meta[META_FREE] = n_free + extra.size
    return noc._replace(free=free, meta=meta, **grown)




class ChipTables(NamedTuple):
    """Geometry and latencies of the chip (times in ps), and its network-on-chip state."""

    core_x: np.ndarray       # int32 (n_cores,)
    core_y: np.ndarray       # int32 (n_cores,)
    n_updatable: np.ndarray  # int64 (n_cores,), neurons with dynamics on each core
    geometry: np.ndarray     # int64 (3,): width, height, torus
    latency_ps: np.ndarray   # int64 (LAT_COUNT,), indexed by LAT_*
    noc: NocState            # contention model (idle and unused when contention is off)
    push_need: np.ndarray    # int64 (n_neurons,), queue entries a step may need per spike
    timing: np.ndarray       # int64 (TIMING_LEN,), indexed by TIMING_*
    msg_syn_ps: np.ndarray   # int32 (n_msg,), synapse work of each message (ps); int64 when
    #                          a message's work may pass 2**31 ps (message_tables.work_bound_ps)
    msg_syn_n: np.ndarray    # int32 (n_msg, 3), its synapses by storage: sparse, dense, conv;
    #                          (n_msg, 1) when all are sparse
    is_input: np.ndarray     # bool (n_neurons,), input neuron (priced as an input)
    may_idle: np.ndarray     # bool (n_neurons,), no bias: idle whenever at rest without input
    upd_end: np.ndarray      # int64 (n_neurons,) scratch: end of the neuron's update in its pass
    n_idle: np.ndarray       # int64 (n_cores,) scratch: idle neurons of the current step
    msg_send: np.ndarray     # int32 (n_msg,), messages in send order within each neuron's range;
    #                          empty: the messages' own order (send_order row_major)
    core_lat: np.ndarray     # int64 (n_cores, CORE_LAT_LEN), each core's own latencies by
    #                          its type (mixed tiles), indexed by CORE_* (``latency_ps`` holds
    #                          the ``core`` type's)
    # Systems of chips (``geometry[3]`` chips; all empty on one chip): messages between chips
    # take their precomputed hierarchical route (``hardware.system.message_routes``).
    msg_route_ps: np.ndarray    # int64 (n_msg,), network latency of a message between chips
    msg_route_hops: np.ndarray  # int64 (n_msg, 4), its tile hops by direction on all its chips
    msg_link_ptr: np.ndarray    # int64 (n_msg + 1,), its chip-to-chip links: msg_link[ptr:ptr+1]
    msg_link: np.ndarray        # int64 (n_traversals,), directed link ids
    link_wire_bits: np.ndarray  # int64 (n_links,), bits of one packet on each directed link
    link_busy_ps: np.ndarray    # int64 (n_links,), serialisation time of one packet
    link_stats: np.ndarray      # int64 (n_links, CLINK_LEN), CLINK_* counters


LAT_SYNAPTIC_OP, LAT_NEURON_UPDATE, LAT_SPIKE_OUT, LAT_MESSAGE_OUT, LAT_MESSAGE_IN, LAT_ROUTER, \
    LAT_HOP_EW, LAT_HOP_NS, LAT_BARRIER, LAT_NEURON_IDLE, LAT_INPUT_SPIKE = range(11)
LAT_COUNT = 11
#: Indices of ``ChipTables.timing``: receive concurrent with the update pass (0/1), flow
#: congestion estimate (0/1), messages one link buffers, idle neurons priced apart (0/1), input
#: spikes priced apart (0/1).
TIMING_CONCURRENT, TIMING_FLOW, TIMING_BUFFER_MSGS, TIMING_IDLE, TIMING_INPUT = range(5)
TIMING_LEN = 5
#: Columns of ``ChipTables.core_lat``: the latencies of updating and sending, per core.
CORE_LAT_OPS = ("neuron_update", "neuron_idle", "spike_out", "message_out", "input_spike")
CORE_UPDATE, CORE_IDLE, CORE_SPIKE_OUT, CORE_MESSAGE_OUT, CORE_INPUT_SPIKE = range(5)
CORE_LAT_LEN = 5


_FLOAT_COLUMNS = ("tau_s", "tau_syn_s", "v_inf", "drift", "v_leak", "r", "i_inf", "v_th",
                  "v_reset", "gain", "v_init", "i_init", "beta", "bias", "d_u", "d_v",
                  "max_count", "v_min",
                  "zoneout")
_INT_COLUMNS = {"reset_code": np.int8, "weight_exp": np.int64, "hold_steps": np.int64,
                "cuba_order": np.int8}
_FLAG_COLUMNS = ("subtract", "euler", "late_reset", "no_reset", "threshold_ge",
                 "spike_count", "relu", "cum_error", "graded")


def _model_columns(pop) -> dict:
    """The engine's columns for one population: the shared ones from its parameter class, then
    its model's own (``NeuronModel.columns`` of the model table)."""
    p = pop.params.per_neuron(pop.size)
    one = np.ones(pop.size)
    cols = {"v_init": p.get("v_init", 0.0 * one), "gain": p.get("input_gain", one),
            "r": p.get("r", one),
            "v_th": p.get("v_th", np.full(pop.size, np.inf)),
            "v_reset": p.get("v_reset", 0.0 * one), "v_leak": p.get("v_leak", 0.0 * one),
            "t_ref_s": p.get("t_ref_s", 0.0 * one)}
    rule = getattr(pop.params, "spike_rule", None)
    if rule is not None:
        cols["max_count"] = np.full(pop.size, float(rule.max_count))
        cols["v_min"] = np.full(pop.size, float(rule.v_min))
    cols.update(model_for_kind(pop.kind).columns(pop.params, p, pop.size))
    return cols


def _model_flags(params) -> dict:
    """Per-population switches of the engine (scalars broadcast over the population); a model's
    own columns (:func:`_model_columns`) override them."""
    from aersim.models.neurons.params import SpikeRule
    reset = getattr(params, "reset", "value")
    rule = getattr(params, "spike_rule", None) or SpikeRule()
    graded = model_for_kind(params.kind).graded
    return {
        "subtract": reset == "subtract",
        "euler": getattr(params, "integrator", "exact") == "euler",
        "late_reset": bool(getattr(params, "late_reset", False))
        or getattr(params, "reset_timing", "immediate") == "next_step",
        "no_reset": reset == "none",
        "threshold_ge": rule.test == ">=",
        "spike_count": rule.count,
        "relu": getattr(params, "activation", "") == "relu",
        "cum_error": bool(getattr(params, "cum_error", False)),
        "graded": bool(graded(params)) if graded is not None else False,
        "reset_code": 0 if reset == "subtract" else 2,
        "weight_exp": int(getattr(params, "weight_exp", 0)),
    }


def build_neurons(network, mapping) -> NeuronTables:
    """Flatten every population's parameters into :class:`NeuronTables`."""
    n = network.n_neurons
    kind = np.empty(n, dtype=np.int8)
    cols = {name: np.zeros(n, dtype=np.float64) for name in _FLOAT_COLUMNS}
    cols["tau_s"][:] = 1.0
    cols["tau_syn_s"][:] = 1.0
    cols["v_th"][:] = np.inf
    cols["max_count"][:] = np.inf
    cols["v_min"][:] = -np.inf
    t_ref_ps = np.zeros(n, dtype=np.int64)
    flags = {name: np.zeros(n, dtype=np.bool_) for name in _FLAG_COLUMNS}
    ints = {name: np.zeros(n, dtype=dtype) for name, dtype in _INT_COLUMNS.items()}
    ints["hold_steps"][:] = -1
    gate_bias = np.zeros((n, 6), dtype=np.float64)
    # Rows only when a table-run model is present (the engines read them for those alone).
    table_run = any(model_for_kind(p.kind) is not None and model_for_kind(p.kind).table_run
                    for p in network.populations.values())
    mp = np.zeros((n if table_run else 0, N_PARAMS), dtype=np.float64)
    start = 0
    for pop in network.populations.values():
        sl = slice(start, start + pop.size)
        start += pop.size
        if pop.kind not in MODEL_KINDS:
            raise ConfigError(f"population {pop.name!r} uses neuron model {pop.kind!r}, which "
                              f"the engine does not run; supported: {', '.join(MODEL_KINDS)}")
        kind[sl] = MODEL_KINDS[pop.kind]
        if pop.kind == "input":
            continue
        for name, value in _model_flags(pop.params).items():
            (flags if name in flags else ints)[name][sl] = value
        for name, values in _model_columns(pop).items():
            if name == "mp":
                mp[sl, :values.shape[1]] = values
            elif name == "t_ref_s":
                t_ref_ps[sl] = np.round(values * 1e12).astype(np.int64)
            elif name in ints:
                ints[name][sl] = values
            elif name in flags:
                flags[name][sl] = values
            elif name == "gate_bias":
                gate_bias[sl] = values
            else:
                cols[name][sl] = values
    core = np.ascontiguousarray(mapping.core_of, dtype=np.int32)
    slot0, _ = input_slots(network)
    return NeuronTables(kind=kind, core=core, upd_rank=_update_ranks(kind, core),
                        t_ref_ps=t_ref_ps, gate_bias=gate_bias, slot0=slot0, mp=mp, **cols,
                        **flags, **ints)


def input_slots(network) -> tuple[np.ndarray, int]:
    """Where each neuron's inputs accumulate: ``(slot0 int64 (n,), n_slots)``.

    A neuron with ``C`` input channels (``params.input_channels``, 1 for almost every model)
    owns slots ``slot0 .. slot0 + C - 1``; a synapse of channel ``c`` onto it targets slot
    ``slot0 + c``. Without multi-channel neurons slots are neuron ids.
    """
    per = np.concatenate([np.full(p.size, getattr(p.params, "input_channels", 1), np.int64)
                          for p in network.populations.values()]) if network.populations \
        else np.zeros(0, np.int64)
    slot0 = np.zeros(per.size, dtype=np.int64)
    np.cumsum(per[:-1], out=slot0[1:])
    return slot0, int(per.sum())


@njit(cache=True)
def _update_ranks_kernel(kind, core, n_cores):
    rank = np.zeros(kind.shape[0], dtype=np.int64)
    seen = np.zeros(n_cores, dtype=np.int64)
    for i in range(kind.shape[0]):
        if kind[i] != KIND_INPUT:
            seen[core[i]] += 1
        rank[i] = seen[core[i]]
    return rank


def _update_ranks(kind, core) -> np.ndarray:
    n_cores = int(core.max()) + 1 if core.size else 1
    return _update_ranks_kernel(kind, core, n_cores)


#: Copies of the synapse arrays from this size on are avoided where the network's arrays can be
#: read in place (:mod:`simcore.engine.synapse_tables`): 256 MiB, about 34 M synapses. Below
#: it the copy costs little memory and delivers faster (each neuron's synapses one contiguous
#: range: about 10 % less delivery time on Brunel than two projections' rows read in place).
IN_PLACE_MIN_BYTES = 256 << 20
#: Layouts of the synapse tables a build can be asked for (``RunConfig.synapses``).
SYNAPSE_LAYOUTS = ("auto", "in_place", "copy")


def build_synapses(network, mapping, layout: str = "auto") -> SynapseTables:
    """Merge all projections into per-neuron fan-out tables sorted by (core, delay).

    Synapse targets are input slots (:func:`input_slots`), which are neuron ids unless the
    network has multi-channel neurons. Besides the tables it returns, the build allocates
    nothing per synapse (:mod:`simcore.engine.synapse_tables`), and in place not even the
    engine's copy of the synapses where the network's arrays allow it and that keeps less
    memory. ``layout`` is ``RunConfig.synapses``: ``"in_place"``, ``"copy"``, or ``"auto"``:
    in place when the copy would take :data:`IN_PLACE_MIN_BYTES` or more, or more than a
    quarter of the memory the machine has available. Both layouts give the same runs, bit for
    bit.
    """
    if layout not in SYNAPSE_LAYOUTS:
        raise ConfigError(f"synapse layout must be one of {SYNAPSE_LAYOUTS}, got {layout!r}")
    in_place = layout == "in_place"
    if layout == "auto":
        copy_bytes = 8 * network.n_synapses
        have = memory.available_bytes()
        in_place = copy_bytes >= IN_PLACE_MIN_BYTES or (have is not None and
                                                        4 * copy_bytes > have)
    for proj in network.projections:
        delays = proj.to_csr_arrays()[3]
        if delays.size and int(delays.max()) > MAX_DELAY_PS:
            raise ConfigError(f"projection {proj.name!r}: delay {int(delays.max())} ps exceeds "
                              f"the engine's limit of {MAX_DELAY_PS} ps (about 1.1 s)")
    slot0, n_slots = input_slots(network)
    # The core of every input slot: a slot lives with its neuron.
    per = np.diff(np.append(slot0, n_slots))
    core = np.ascontiguousarray(np.repeat(mapping.core_of, per), dtype=np.int32)
    return SynapseTables(*fan_out_tables(network, core, slot0, DELAY_BITS, share=in_place))


def build_chip(chip, neurons: NeuronTables, syn: SynapseTables | None = None,
               network=None) -> ChipTables:
    """Core coordinates, updatable-neuron counts, the latency vector and the NoC of ``chip``.

    ``syn`` is needed when the chip models contention (multicast trees, capacity bounds) and for
    the per-message synapse work; ``network`` tells each synapse's storage (sparse, dense or
    convolution) for chips that price them apart (without it every synapse is sparse). The
    barrier is the chip's entry for the number of tiles that hold neurons.
    """
    xs, ys = chip.core_xy()
    n_upd = np.bincount(neurons.core[neurons.kind != KIND_INPUT],
                        minlength=chip.n_cores).astype(np.int64)
    c, noc = chip.core.latency_ps, chip.noc
    lat = np.zeros(LAT_COUNT, dtype=np.int64)
    lat[LAT_SYNAPTIC_OP] = c["synaptic_op"]
    lat[LAT_NEURON_UPDATE] = c["neuron_update"]
    lat[LAT_SPIKE_OUT] = c["spike_out"]
    lat[LAT_MESSAGE_OUT] = c["message_out"]
    lat[LAT_MESSAGE_IN] = c["message_in"]
    lat[LAT_ROUTER] = noc.router_latency_ps
    lat[LAT_HOP_EW] = noc.hop_latency_ps["east_west"]
    lat[LAT_HOP_NS] = noc.hop_latency_ps["north_south"]
    lat[LAT_BARRIER] = barrier_for_cores(chip, neurons.core)[0]
    lat[LAT_NEURON_IDLE] = c.get("neuron_idle", c["neuron_update"])
    lat[LAT_INPUT_SPIKE] = c.get("input_spike", c["spike_out"])
    # An optional operation priced by any core type is counted apart (types that do not
    # price it carry its fallback's price and latency).
    priced = {op for spec in chip.core_specs() for op in getattr(spec, "priced", ())}
    timing = np.zeros(TIMING_LEN, dtype=np.int64)
    timing[TIMING_CONCURRENT] = getattr(chip.core, "receive", "serial") == "concurrent"
    timing[TIMING_FLOW] = getattr(noc, "congestion", "none") == "flow"
    timing[TIMING_BUFFER_MSGS] = max(1, noc.buffer_flits // noc.flits) if noc.buffer_flits else 0
    timing[TIMING_IDLE] = "neuron_idle" in priced
    timing[TIMING_INPUT] = "input_spike" in priced
    if syn is not None:
        msg_syn_n = message_storage(network, syn, chip)
        msg_syn_ps = receive_work_ps(chip, syn, msg_syn_n)
        msg_send = send_order(chip, syn)
    else:
        msg_syn_n = np.zeros((0, 1), dtype=np.int32)
        msg_syn_ps = np.zeros(0, dtype=np.int32)
        msg_send = np.zeros(0, dtype=np.int32)
    n = neurons.core.shape[0]
    may_idle = (neurons.kind != KIND_INPUT) & np.isin(neurons.kind, (KIND_LIF, KIND_IF,
                                                                      KIND_CUBA)) \
        & (neurons.v_inf == 0.0) & (neurons.v_leak == 0.0) & (neurons.drift == 0.0) \
        & (neurons.i_inf == 0.0)
    n_chips = int(getattr(chip, "n_chips", 1))
    geometry = np.array([chip.width, chip.height, chip.topology == "torus", n_chips],
                        dtype=np.int64)
    n_msgs = np.diff(syn.msg_ptr) if syn is not None else np.zeros(neurons.core.shape[0],
                                                                      np.int64)
    if noc.contention and syn is not None:
        noc_state, push_need = build_noc(chip, syn.msg_ptr, syn.msg_core,
                                         neurons.core.astype(np.int64))
    else:
        noc_state = new_noc_state(noc_config(chip), chip.n_tiles, 16)
        push_need = n_msgs.astype(np.int64)
    return ChipTables(xs, ys, n_upd, geometry, lat, noc_state, push_need, timing,
                      np.ascontiguousarray(msg_syn_ps), np.ascontiguousarray(msg_syn_n),
                      neurons.kind == KIND_INPUT, np.ascontiguousarray(may_idle),
                      np.zeros(n, dtype=np.int64), np.zeros(chip.n_cores, dtype=np.int64),
                      np.ascontiguousarray(msg_send), chip.core_latency_ps(CORE_LAT_OPS),
                      *system_tables(chip, neurons, syn))



@njit(cache=True)
def widest(ptr) -> int:
    """Largest ``ptr[i + 1] - ptr[i]`` of a CSR pointer array (0 when it has no rows), without
    the temporary ``np.diff`` would make (the segment pointers have one entry per message)."""
    best = 0
    for i in range(ptr.shape[0] - 1):
        best = max(best, ptr[i + 1] - ptr[i])
    return best


def delay_steps(syn: SynapseTables, dt_ps: int) -> np.ndarray:
    """Every segment's delay in whole time steps of ``dt_ps``, int32 ``(n_seg,)``.

    The distinct delays are divided once and looked up by the segments' int32 index, so no
    int64 array the size of the segment list is made; int32 holds any delay a run can use (the
    time-step ring keeps one row per step of the longest delay).
    """
    longest = int(syn.delay_ps.max(initial=0)) // dt_ps
    if longest > np.iinfo(np.int32).max:
        raise ConfigError(f"the longest synaptic delay ({int(syn.delay_ps.max())} ps) is "
                          f"{longest} steps of dt={dt_ps} ps; raise dt or shorten the delays")
    return (syn.delay_ps // dt_ps).astype(np.int32)[syn.seg_delay]


def noc_config(chip) -> np.ndarray:
    """The ``NocState.cfg`` vector of ``chip`` (int64, indexed by ``NOC_*``)."""
    n = chip.noc
    cfg = np.zeros(NOC_CFG_LEN, dtype=np.int64)
    cfg[NOC_ON] = bool(n.contention)
    cfg[NOC_MULTICAST] = n.routing == "multicast"
    cfg[NOC_CYCLE_PS] = n.cycle_ps
    cfg[NOC_FLITS] = n.flits
    cfg[NOC_BUFFER] = n.buffer_flits
    cfg[NOC_CPT] = chip.cores_per_tile
    cfg[NOC_PORTS] = 4 + chip.cores_per_tile
    cfg[NOC_WIDTH] = chip.width
    cfg[NOC_HEIGHT] = chip.height
    cfg[NOC_TORUS] = chip.topology == "torus"
    cfg[NOC_ROUTER_PS] = n.router_latency_ps
    cfg[NOC_HOP_EW_PS] = n.hop_latency_ps["east_west"]
    cfg[NOC_HOP_NS_PS] = n.hop_latency_ps["north_south"]
    cfg[NOC_VCS] = max(1, int(getattr(n, "virtual_channels", 1)))
    cfg[NOC_CHIPS] = int(getattr(chip, "n_chips", 1))
    if cfg[NOC_CHIPS] > 1:
        cfg[NOC_PORT_TILE] = chip.port_tile
        cfg[NOC_DEGREE] = max(len(chip_ports(chip, a)) for a in range(chip.n_chips))
        cfg[NOC_PORTS] += cfg[NOC_DEGREE]
    return cfg


def chip_ports(chip, a: int) -> list:
    """Directed links leaving chip ``a`` of a system, by id: the link of its port ``k`` is
    entry ``k`` (port ``k`` also receives the reverse of that link)."""
    return [d for d in range(chip.n_links) if chip.directed_link(d)[0] == a]


def system_noc_tables(chip, cfg) -> tuple[np.ndarray, np.ndarray]:
    """``NocState.sys_next`` and ``sys_links`` of a system of chips (see ``SYS_*``)."""
    n, deg = chip.n_chips, int(cfg[NOC_DEGREE])
    ports = [chip_ports(chip, a) for a in range(n)]
    k_of = {d: k for a in range(n) for k, d in enumerate(ports[a])}
    nxt = np.full(n * n, -1, dtype=np.int64)
    for a in range(n):
        for b in range(n):
            if a != b:
                nxt[a * n + b] = k_of[chip.chip_path(a, b)[0]]
    rows = np.full((n * deg, 7), -1, dtype=np.int64)
    t = chip.member.n_tiles
    cpt = chip.cores_per_tile
    pb = chip.noc.packet_bits
    for a in range(n):
        for k, d in enumerate(ports[a]):
            _, b, link = chip.directed_link(d)
            k_in = k_of[d ^ 1]             # the port of chip b that receives link d
            busy = link.serialisation_ps(pb)
            rows[a * deg + k, :4] = (b * t + chip.port_tile, 4 + cpt + k_in,
                                     link.latency_ps + busy + chip.noc.router_latency_ps, busy)
            rows[a * deg + k, SYS_LINK] = d
            rows[b * deg + k_in, SYS_UP_TILE:SYS_LINK] = (a * t + chip.port_tile, 4 + cpt + k)
    return nxt, rows


def build_noc(chip, msg_ptr, msg_core, src_core, capacity: int | None = None):
    """The contention model's state for keys with destination cores ``msg_core[msg_ptr[j]:]``.

    A key is a source neuron (engine) or one injected packet (``simulate_noc``), sent from
    ``src_core[j]``. For multicast, builds the XY trees and checks every router's key/mask table
    against ``routing_table_entries``. Returns ``(state, push_need)``: ``push_need[j]`` bounds
    the queue entries one packet (or one spike's packets) of key ``j`` can push, so that a step
    can reserve them. The packet capacity defaults to what every key in flight at once needs.

    Raises
    ------
    MappingError
        A router's multicast table overflows; names the router, the entries and the capacity.
    """
    cfg = noc_config(chip)
    n_keys = msg_ptr.shape[0] - 1
    n_msgs = np.diff(msg_ptr).astype(np.int64)
    src_tile = src_core // chip.cores_per_tile
    if cfg[NOC_CHIPS] > 1:
        from aersim.hardware.errors import ChipSpecError
        from aersim.hardware.system import message_routes
        if cfg[NOC_MULTICAST]:
            raise ChipSpecError(f"system {chip.name!r}: noc.contention with multicast routing "
                                "is not modelled between chips; use routing: unicast or "
                                "contention: false")
        key = np.repeat(np.arange(n_keys), n_msgs)
        src = np.asarray(src_core, dtype=np.int64)[key]
        dst = np.asarray(msg_core, dtype=np.int64)
        _, hops, lptr, _ = message_routes(chip, src, dst)
        xs, ys = chip.core_xy()
        local = _route_lengths(xs[src], ys[src], xs[dst], ys[dst], chip)
        cross = np.diff(lptr) > 0
        steps = np.where(cross, hops.sum(axis=1) + np.diff(lptr), local)
        push_need = np.bincount(key, weights=3 * (steps + 1) + 1, minlength=n_keys)
        nxt, rows = system_noc_tables(chip, cfg)
        state = new_noc_state(cfg, chip.n_tiles, capacity or int(n_msgs.sum()),
                              sys_next=nxt, sys_links=rows)
        return state, push_need.astype(np.int64)
    if not cfg[NOC_MULTICAST]:
        dest_tile = np.asarray(msg_core, dtype=np.int64) // chip.cores_per_tile
        key = np.repeat(np.arange(n_keys), n_msgs)
        sx, sy = src_tile[key] % chip.width, src_tile[key] // chip.width
        dx, dy = dest_tile % chip.width, dest_tile // chip.width
        hops = _route_lengths(sx, sy, dx, dy, chip)
        push_need = np.bincount(key, weights=3 * (hops + 1) + 1, minlength=n_keys)
        state = new_noc_state(cfg, chip.n_tiles, capacity or int(n_msgs.sum()))
        return state, push_need.astype(np.int64)
    ptr, tile, mask, arrive = multicast_trees(msg_ptr, msg_core, src_core, chip.cores_per_tile,
                                              chip.width, chip.height, chip.topology == "torus")
    entries = routing_table_entries(ptr, tile, mask, arrive, src_core, chip.n_tiles)
    cap = chip.noc.routing_table_entries
    if cap and entries.max(initial=0) > cap:
        worst = int(np.argmax(entries))
        raise MappingError(
            f"the multicast routing table of router {worst} (tile x={worst % chip.width}, "
            f"y={worst // chip.width}) needs {int(entries[worst])} key/mask entries but holds "
            f"{cap} (noc.routing_table_entries); {int((entries > cap).sum())} router(s) "
            "overflow. Use a chip with larger tables, a mapping that keeps each population's "
            "targets on fewer cores, or fewer source neurons per core")
    key = np.repeat(np.arange(n_keys), np.diff(ptr))
    tree_hops = np.zeros((n_keys, 4), dtype=np.int64)
    for d in range(4):
        np.add.at(tree_hops[:, d], key, (mask >> d) & 1)
    dir_edges = tree_hops.sum(axis=1)
    has = n_msgs > 0
    push_need = np.where(has, 1 + 3 * (dir_edges + n_msgs), 0).astype(np.int64)
    state = new_noc_state(cfg, chip.n_tiles, capacity or int((has + dir_edges).sum()),
                          ptr, tile, mask, tree_hops)
    return state, push_need


def _route_lengths(sx, sy, dx, dy, chip) -> np.ndarray:
    """Hops of XY routes, vectorised (the same rule as ``hardware.noc.xy_hops``)."""
    ddx, ddy = dx - sx, dy - sy
    if chip.topology == "torus":
        w, h = chip.width, chip.height
        ddx = np.where(ddx > w // 2, ddx - w, np.where(ddx < -((w - 1) // 2), ddx + w, ddx))
        ddy = np.where(ddy > h // 2, ddy - h, np.where(ddy < -((h - 1) // 2), ddy + h, ddy))
    return np.abs(ddx) + np.abs(ddy)


def engine_bytes(syn: SynapseTables, neurons: NeuronTables) -> int:
    """Bytes held by the engine's synapse and neuron tables: not the network's arrays that the
    tables read in place, and not ``seg_hi`` of the copied layout (a view of ``seg_lo``)."""
    if reads_in_place(syn):     # target and weight are the network's
        kept = [a for name, a in zip(syn._fields, syn, strict=True)
                if name not in ("target", "weight")]
    else:                       # seg_hi is a view of seg_lo
        kept = [a for name, a in zip(syn._fields, syn, strict=True) if name != "seg_hi"]
    return sum(a.nbytes for a in kept) + sum(a.nbytes for a in neurons)
