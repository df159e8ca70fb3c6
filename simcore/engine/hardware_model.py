"""What a spike costs the hardware: the kernels both engines share.

A spike leaves its core as one message per destination core (unicast). The sending core is busy
for ``spike_out`` and then ``message_out`` per message (its own type's latencies on a chip with
mixed tiles: ``ChipTables.core_lat``); message ``m`` departs when its
``message_out`` completes and travels the XY route: the router once, then one hop latency per
tile hop (east-west and north-south differ). A receiving core serves messages one at a time, in
order of arrival: ``message_in`` plus ``synaptic_op`` per synapse of the message (at its type's
latencies: ``ChipTables.msg_syn_ps``). Every step of
the way is counted in ``counts[core, OP]`` (see ``hardware.energy.OP_KINDS``).

With ``noc.contention`` on, ``send_spike_noc`` replaces ``send_spikes``: messages become packets
that queue at links and router buffers (``noc_inject``, ``noc_arbitrate``); ``simulate_noc``
runs injected packets through the same kernels on their own (compare
``simcore.engine.reference_noc``).
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from aersim.hardware.energy import (
    CHIP_LINK,
    HOP_EAST,
    HOP_NORTH,
    HOP_SOUTH,
    HOP_WEST,
    INPUT_SPIKE,
    MESSAGE_IN,
    MESSAGE_OUT,
    ROUTER,
    SPIKE_OUT,
    SYNAPTIC_OP,
    SYNAPTIC_OP_CONV,
    SYNAPTIC_OP_DENSE,
)
from aersim.hardware.noc import neighbour_tile, xy_hops, xy_next_output
from aersim.simcore.engine.build import (
    CLINK_BITS,
    CLINK_BUSY_PS,
    CLINK_PACKETS,
    CORE_INPUT_SPIKE,
    CORE_MESSAGE_OUT,
    CORE_SPIKE_OUT,
    LAT_HOP_EW,
    LAT_HOP_NS,
    LAT_MESSAGE_IN,
    LAT_ROUTER,
    LINK_BLOCKED_PS,
    LINK_BUSY_PS,
    LINK_FLITS,
    LINK_MAX_QUEUE_FLITS,
    LINK_PACKETS,
    META_DELIVERED,
    META_FREE,
    META_INJECTED,
    META_SEQ,
    NOC_BUFFER,
    NOC_CHIPS,
    NOC_CPT,
    NOC_CYCLE_PS,
    NOC_DEGREE,
    NOC_FLITS,
    NOC_HEIGHT,
    NOC_HOP_EW_PS,
    NOC_HOP_NS_PS,
    NOC_MULTICAST,
    NOC_PORT_TILE,
    NOC_PORTS,
    NOC_ROUTER_PS,
    NOC_TORUS,
    NOC_VCS,
    NOC_WIDTH,
    SYS_BUSY_PS,
    SYS_DELAY_PS,
    SYS_DOWN_PORT,
    SYS_DOWN_TILE,
    SYS_UP_PORT,
    SYS_UP_TILE,
    TIMING_INPUT,
    build_noc,
)
from aersim.simcore.engine.inner import inner
from aersim.simcore.engine.queue import (
    KIND_SHIFT,
    heap_append,
    heap_pop,
    heap_push,
    heap_size,
    make_key,
    new_heap,
)

#: Kind priority of a message arriving at a core (shared by both engines' queues).
KIND_MESSAGE = 3


# Inlined kernels (``inline="always"``) that take the ``ChipTables`` tuple read what they need
# from it before their first branch or loop. Numba copies a tuple argument of an inlined call
# with a reference-count increment and decrement of each of its arrays (some forty, with the NoC
# state), and drops the pair only if the copy dies in the block that made it: one read of
# ``chip`` after the message-log branch of the message server cost some eighty atomic
# operations per message served, a third of a timestep run. Arrays passed to an inlined call
# that branches or loops cost a pair each as well. So the small helpers take arrays, and the
# per-spike and per-message work loops inside one call (``send_spikes``, ``serve_messages``)
# that reads the tables once: a call per spike or per message, even with arrays, cost 25 ns a
# message and 150 ns a spike.


@njit(cache=True, inline="always")
def spike_cost(timing, is_input, core_lat, counts, neuron, core):
    """Count ``neuron``'s spike on ``core`` and return its ``spike_out`` time (ps) at the
    core's own type's latency; an input neuron's spike is an ``input_spike`` on chips that
    price it apart (``chip.timing``, ``chip.is_input``, ``chip.core_lat``)."""
    if timing[TIMING_INPUT] != 0 and is_input[neuron]:
        counts[core, INPUT_SPIKE] += 1
        return core_lat[core, CORE_INPUT_SPIKE]
    counts[core, SPIKE_OUT] += 1
    return core_lat[core, CORE_SPIKE_OUT]


@njit(cache=True, inline="always")
def count_synapses(msg_syn_n, counts, m, dest):
    """Count message ``m``'s synapses on ``dest`` by storage kind (``chip.msg_syn_n``; one
    column when every synapse is sparse)."""
    counts[dest, SYNAPTIC_OP] += msg_syn_n[m, 0]
    if msg_syn_n.shape[1] > 1:
        counts[dest, SYNAPTIC_OP_DENSE] += msg_syn_n[m, 1]
        counts[dest, SYNAPTIC_OP_CONV] += msg_syn_n[m, 2]


@njit(cache=True, inline="always")
def send_spikes(syn, chip, counts, heap, neuron_core, spiked, ready, n_sp, extra, append):
    """Emit the messages of the spikes ``spiked[:n_sp]`` (neuron ids, int64), the ``i``-th
    from its core ``c = neuron_core[spiked[i]]`` starting at ``ready[i] + extra[c]`` (ps):
    ``extra`` (int64 per core, updated) is the time each core has already spent sending, so
    that a core's spikes leave one after the other (in a timestep, on top of its update pass;
    the event engine passes one spike with ``extra[c] = 0``).

    Adds one ``KIND_MESSAGE`` event per message at its arrival time, with the message index
    as tiebreak and payload: pushed on the heap, or appended unordered (``append``,
    ``queue.heap_append``) for a caller that takes a whole step's messages in order at once.
    ``spike_out`` and ``message_out`` take the sending core's type's latencies. In a system of
    chips, a message to another chip takes its precomputed route (``msg_route_*``): its
    routers, hops and chip-to-chip links are counted on the sending core and its links'
    packets, bits and busy time in ``chip.link_stats``.

    The tables are read once, before the loop over spikes: an inlined call per spike that
    takes them (or their arrays) costs a reference-count increment and decrement of each
    array per spike, several times the work of a spike's messages.
    """
    msg_ptr, msg_core, lat = syn.msg_ptr, syn.msg_core, chip.latency_ps
    core_x, core_y, core_lat = chip.core_x, chip.core_y, chip.core_lat
    width, height, torus = chip.geometry[0], chip.geometry[1], chip.geometry[2] != 0
    multi = chip.geometry[3] > 1
    timing, is_input, link_ptr = chip.timing, chip.is_input, chip.msg_link_ptr
    route_hops, route_ps, link = chip.msg_route_hops, chip.msg_route_ps, chip.msg_link
    wire_bits, busy_ps, stats = chip.link_wire_bits, chip.link_busy_ps, chip.link_stats
    for i in range(n_sp):
        neuron = spiked[i]
        core = neuron_core[neuron]
        t_out = core_lat[core, CORE_MESSAGE_OUT]
        t = ready[i] + extra[core] + spike_cost(timing, is_input, core_lat, counts, neuron,
                                                core)
        x0 = core_x[core]
        y0 = core_y[core]
        for m in range(msg_ptr[neuron], msg_ptr[neuron + 1]):
            dest = msg_core[m]
            t += t_out
            counts[core, MESSAGE_OUT] += 1
            counts[core, ROUTER] += 1
            if multi and link_ptr[m + 1] > link_ptr[m]:
                arrive = t + cross_chip(route_hops, route_ps, link_ptr, link, wire_bits,
                                        busy_ps, stats, counts, core, m)
            else:
                east, west, north, south = xy_hops(x0, y0, core_x[dest], core_y[dest], width,
                                                   height, torus)
                arrive = t + lat[LAT_ROUTER] + (east + west) * lat[LAT_HOP_EW] \
                    + (north + south) * lat[LAT_HOP_NS]
                counts[core, HOP_EAST] += east
                counts[core, HOP_WEST] += west
                counts[core, HOP_NORTH] += north
                counts[core, HOP_SOUTH] += south
            if append:
                heap_append(heap, arrive, make_key(KIND_MESSAGE, m), m, 0)
            else:
                heap_push(heap, arrive, make_key(KIND_MESSAGE, m), m, 0)
        extra[core] = t - ready[i]


@inner
def cross_chip(route_hops, route_ps, link_ptr, link, wire_bits, busy_ps, stats, counts, core,
               m):
    """Count message ``m``'s route between chips on ``core`` and its links (``chip.msg_route_*``,
    ``msg_link*``, ``link_*``); return its network latency (ps), zero-load. Arrays, not the
    chip tables: a caller that passed the tables inside its message loop kept a copy of them
    alive across the loop (see the note above :func:`spike_cost`). Not inlined: single-chip
    runs never call it."""
    counts[core, HOP_EAST] += route_hops[m, 0]
    counts[core, HOP_WEST] += route_hops[m, 1]
    counts[core, HOP_NORTH] += route_hops[m, 2]
    counts[core, HOP_SOUTH] += route_hops[m, 3]
    for k in range(link_ptr[m], link_ptr[m + 1]):
        d = link[k]
        stats[d, CLINK_PACKETS] += 1
        stats[d, CLINK_BITS] += wire_bits[d]
        stats[d, CLINK_BUSY_PS] += busy_ps[d]
        counts[core, CHIP_LINK] += 1
        counts[core, ROUTER] += 1          # the router of the chip the link enters
    return route_ps[m]


@njit(cache=True, inline="always")
def serve_messages(syn, chip, counts, core_free, msg, t_arrive, n, mlog, mlog_meta):
    """Serve the messages ``msg[:n]`` (int64), arriving at their destination cores at
    ``t_arrive[:n]`` (ps), in that order; return the end time of the last.

    A core starts a message when it is free (``core_free``, updated here) and spends
    ``message_in`` plus ``synaptic_op`` per synapse of the message (by storage kind:
    ``chip.msg_syn_ps``). When the message log ``mlog`` (int64 ``(capacity, 4)``: message,
    arrival, service start, service end) has rows, each message is appended to it
    (``mlog_meta[0]`` rows used). The tables are read once for all messages (see
    :func:`send_spikes`): a call per message that took them cost a third of a timestep's
    timeline. (The event engine serves one at a time, with ``n = 1``.)
    """
    msg_core, msg_syn_ps, msg_syn_n = syn.msg_core, chip.msg_syn_ps, chip.msg_syn_n
    t_in = chip.latency_ps[LAT_MESSAGE_IN]
    log = mlog.shape[0] > 0
    end = np.int64(0)
    for i in range(n):
        m = msg[i]
        t = t_arrive[i]
        dest = msg_core[m]
        start = t if t > core_free[dest] else core_free[dest]
        end = start + t_in + msg_syn_ps[m]
        core_free[dest] = end
        counts[dest, MESSAGE_IN] += 1
        count_synapses(msg_syn_n, counts, m, dest)
        if log:
            log_message(mlog, mlog_meta, m, t, start, end)
    return end


@njit(cache=True, inline="always")
def log_message(mlog, mlog_meta, m, t_arrive, start, end):
    """Append message ``m``'s row (arrival, service start and end, ps) to the message log
    (``mlog``: int64 ``(capacity, 4)``, ``mlog_meta[0]`` rows used). No branch: the caller
    tests whether the log is kept."""
    row = mlog_meta[0]
    mlog[row, 0] = m
    mlog[row, 1] = t_arrive
    mlog[row, 2] = start
    mlog[row, 3] = end
    mlog_meta[0] = row + 1


# ----------------------------------------------------------------------------------------------
# Network-on-chip contention (``noc.contention: true``); semantics in docs/engine.md.
#
# Every directed link and every ejection port is a server that moves one flit per cycle; a
# packet of F flits holds it for F cycles. A router input port is a FIFO of ``buffer_flits``
# flits (injection ports from cores are unbounded). Events are ``KIND_NOC`` arbitrations of one
# router (tiebreak: tile) on the engine's heap; at an arbitration at time t, each free output
# is granted to the oldest eligible head-of-FIFO packet that wants it (smallest (eligible time,
# packet sequence number)), if the downstream buffer has room for the whole packet; otherwise
# the output waits (head-of-line blocking) and the packet blocks its input port.

#: Kind priority of a router arbitration on the engines' queues.
KIND_NOC = 4
@njit(cache=True, inline="always")
def noc_free_slots(noc):
    """Packet slots still free."""
    return noc.meta[META_FREE]


@inner
def noc_reset_times(noc):
    """Start a new time origin (timestep mode: each step's timeline starts at 0)."""
    for i in range(noc.link_free.shape[0]):
        noc.link_free[i] = 0
        noc.port_free[i] = 0
    for i in range(noc.arb_last.shape[0]):
        noc.arb_last[i] = -1


@inner
def _noc_arbitrate_at(noc, heap, tile, t):
    """Queue an arbitration of ``tile``'s router at ``t`` (skipping an identical pending one)."""
    if noc.arb_last[tile] != t:
        noc.arb_last[tile] = t
        heap_push(heap, t, make_key(KIND_NOC, tile), tile, 0)


@inner
def _tree_row(noc, key, tile):
    """Row of ``key``'s multicast tree at ``tile`` (binary search), or -1."""
    lo = noc.tree_ptr[key]
    hi = noc.tree_ptr[key + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if noc.tree_tile[mid] < tile:
            lo = mid + 1
        else:
            hi = mid
    if lo < noc.tree_ptr[key + 1] and noc.tree_tile[lo] == tile:
        return lo
    return -1


@inner
def _noc_outputs(noc, cfg, key, dest, tile):
    """Bit mask of the outputs a packet takes at ``tile``.

    In a system of chips (global tile numbers) a packet for another chip goes XY to its chip's
    port tile and leaves there by the port of the next chip-to-chip link of its route."""
    if cfg[NOC_MULTICAST]:
        r = _tree_row(noc, key, tile)
        return noc.tree_mask[r] if r >= 0 else 0
    cpt = cfg[NOC_CPT]
    if cfg[NOC_CHIPS] > 1:
        n_t = cfg[NOC_WIDTH] * cfg[NOC_HEIGHT]
        a = tile // n_t
        b = dest // (n_t * cpt)
        local = tile - a * n_t
        if a != b:
            port = cfg[NOC_PORT_TILE]
            if local == port:
                return np.int64(1) << (4 + cpt + noc.sys_next[a * cfg[NOC_CHIPS] + b])
            return np.int64(1) << xy_next_output(local, port * cpt, cpt, cfg[NOC_WIDTH],
                                                 cfg[NOC_HEIGHT], cfg[NOC_TORUS] != 0)
        return np.int64(1) << xy_next_output(local, dest - b * n_t * cpt, cpt, cfg[NOC_WIDTH],
                                             cfg[NOC_HEIGHT], cfg[NOC_TORUS] != 0)
    return np.int64(1) << xy_next_output(tile, dest, cpt, cfg[NOC_WIDTH],
                                         cfg[NOC_HEIGHT], cfg[NOC_TORUS] != 0)


@njit(cache=True, inline="always")
def _mesh_neighbour(tile, direction, width, height):
    """The tile one hop away on the same chip (global tile numbers of a system)."""
    off = (tile // (width * height)) * (width * height)
    return off + neighbour_tile(tile - off, direction, width, height)


@njit(cache=True, inline="always")
def _vc_of(mask, vcs):
    """Virtual channel of a packet whose outputs at the router are ``mask``: its (first) output
    port modulo the VCs, so packets bound for different outputs queue apart."""
    o = 0
    while o < 63 and (mask >> o) & 1 == 0:
        o += 1
    return o % vcs


@inner
def _fifo_append(noc, port, h):
    noc.p_next[h] = -1
    if noc.q_tail[port] < 0:
        noc.q_head[port] = h
    else:
        noc.p_next[noc.q_tail[port]] = h
    noc.q_tail[port] = h


@inner
def noc_inject(noc, heap, t_depart, core, key, dest, flits):
    """A packet leaves ``core`` at ``t_depart`` into its router's injection port.

    ``key`` is the message index (unicast, delivered to ``dest``) or the multicast tree key.
    The head reaches the router's output stage after the router latency.
    """
    cfg = noc.cfg
    cpt = cfg[NOC_CPT]
    tile = core // cpt
    n_free = noc.meta[META_FREE] - 1
    noc.meta[META_FREE] = n_free
    h = noc.free[n_free]
    noc.p_ready[h] = t_depart + cfg[NOC_ROUTER_PS]
    noc.p_seq[h] = noc.meta[META_SEQ]
    noc.meta[META_SEQ] += 1
    noc.meta[META_INJECTED] += 1
    noc.p_key[h] = key
    noc.p_dest[h] = dest
    noc.p_flits[h] = flits
    noc.p_mask[h] = _noc_outputs(noc, cfg, key, dest, tile)
    vcs = cfg[NOC_VCS]
    _fifo_append(noc, (tile * cfg[NOC_PORTS] + 4 + core % cpt) * vcs
                 + _vc_of(noc.p_mask[h], vcs), h)
    _noc_arbitrate_at(noc, heap, tile, noc.p_ready[h])


@inner
def noc_arbitrate(noc, heap, tile, t, msg_ptr, msg_core):
    """Arbitrate ``tile``'s router at ``t``: grant every free output its oldest eligible packet.

    A delivery to a core pushes a ``KIND_MESSAGE`` event at the time its tail arrives, with the
    message index (``p_key`` for unicast; for multicast the message of tree key ``p_key`` to that
    core, looked up in ``msg_ptr``/``msg_core``) as tiebreak and payload.
    """
    cfg = noc.cfg
    n_ports = cfg[NOC_PORTS]
    cpt = cfg[NOC_CPT]
    width = cfg[NOC_WIDTH]
    height = cfg[NOC_HEIGHT]
    cycle = cfg[NOC_CYCLE_PS]
    vcs = cfg[NOC_VCS]
    base = tile * n_ports
    qbase = base * vcs
    n_q = n_ports * vcs
    if noc.arb_last[tile] == t:
        noc.arb_last[tile] = -1
    q_head = noc.q_head
    p_ready = noc.p_ready
    p_mask = noc.p_mask
    port_free = noc.port_free
    # The outputs that some eligible head-of-FIFO packet wants (FIFO q is VC q % vcs of input
    # port q // vcs).
    want = np.int64(0)
    for qi in range(n_q):
        h = q_head[qbase + qi]
        if h >= 0 and p_ready[h] <= t and port_free[base + qi // vcs] <= t:
            want |= p_mask[h]
    o = -1
    while want != 0:
        o += 1
        bit = np.int64(1) << o
        if (want & bit) == 0:
            continue
        want &= ~bit
        link = base + o
        if noc.link_free[link] > t:
            continue
        best = -1
        best_port = -1
        best_q = -1
        best_el = 0
        best_seq = 0
        for qi in range(n_q):
            ip = base + qi // vcs
            h = q_head[qbase + qi]
            if h < 0 or (p_mask[h] & bit) == 0:
                continue
            el = p_ready[h] if p_ready[h] > port_free[ip] else port_free[ip]
            if el > t:
                continue
            if best < 0 or el < best_el or (el == best_el and noc.p_seq[h] < best_seq):
                best = h
                best_port = ip
                best_q = qbase + qi
                best_el = el
                best_seq = noc.p_seq[h]
        if best < 0:
            continue
        h = best
        f = noc.p_flits[h]
        down = -1
        dq = -1
        next_mask = np.int64(0)
        chip_link = o >= 4 + cpt
        forward = o < 4 or chip_link
        row = -1
        if forward:
            if chip_link:
                row = (tile // (width * height)) * cfg[NOC_DEGREE] + o - 4 - cpt
                down = noc.sys_links[row, SYS_DOWN_TILE]
                in_port = noc.sys_links[row, SYS_DOWN_PORT]
            else:
                down = _mesh_neighbour(tile, o, width, height)
                in_port = o
            # The downstream VC is chosen by the packet's output there (lookahead routing).
            next_mask = _noc_outputs(noc, cfg, noc.p_key[h], noc.p_dest[h], down)
            dport = (down * n_ports + in_port) * vcs
            dq = dport + _vc_of(next_mask, vcs)
            if noc.occ[dq] + f > cfg[NOC_BUFFER]:
                # Otherwise the first VC with room for the whole packet.
                dq = -1
                for vc in range(vcs):
                    if noc.occ[dport + vc] + f <= cfg[NOC_BUFFER]:
                        dq = dport + vc
                        break
            if dq < 0:
                if noc.blocked_since[link] < 0:
                    noc.blocked_since[link] = t
                continue
            noc.occ[dq] += f
            if noc.occ[dq] > noc.link_stats[link, LINK_MAX_QUEUE_FLITS]:
                noc.link_stats[link, LINK_MAX_QUEUE_FLITS] = noc.occ[dq]
        # Grant output o to packet h.
        if noc.blocked_since[link] >= 0:
            noc.link_stats[link, LINK_BLOCKED_PS] += t - noc.blocked_since[link]
            noc.blocked_since[link] = -1
        busy = noc.sys_links[row, SYS_BUSY_PS] if chip_link else f * cycle
        noc.link_free[link] = t + busy
        noc.link_stats[link, LINK_PACKETS] += 1
        noc.link_stats[link, LINK_FLITS] += f
        noc.link_stats[link, LINK_BUSY_PS] += busy
        noc.p_mask[h] &= ~bit
        last = noc.p_mask[h] == 0
        if last:
            # The packet has left this input port: the next one may start after its tail, and
            # the upstream link gets its buffer space back.
            nxt = noc.p_next[h]
            noc.q_head[best_q] = nxt
            if nxt < 0:
                noc.q_tail[best_q] = -1
            noc.port_free[best_port] = t + busy
            i_in = best_port - base
            if i_in < 4 or i_in >= 4 + cpt:
                noc.occ[best_q] -= f
                if i_in < 4:
                    up = _mesh_neighbour(tile, i_in ^ 1, width, height)
                    up_link = up * n_ports + i_in
                else:
                    r_in = (tile // (width * height)) * cfg[NOC_DEGREE] + i_in - 4 - cpt
                    up = noc.sys_links[r_in, SYS_UP_TILE]
                    up_link = up * n_ports + noc.sys_links[r_in, SYS_UP_PORT]
                if noc.blocked_since[up_link] >= 0:
                    _noc_arbitrate_at(noc, heap, up, t)
        _noc_arbitrate_at(noc, heap, tile, t + busy)
        if forward:
            if last:
                c = h
            else:
                n_free = noc.meta[META_FREE] - 1
                noc.meta[META_FREE] = n_free
                c = noc.free[n_free]
                noc.p_seq[c] = noc.p_seq[h]
                noc.p_key[c] = noc.p_key[h]
                noc.p_dest[c] = noc.p_dest[h]
                noc.p_flits[c] = f
            if chip_link:
                lat = noc.sys_links[row, SYS_DELAY_PS]
            else:
                lat = cfg[NOC_HOP_EW_PS] if o < 2 else cfg[NOC_HOP_NS_PS]
            noc.p_ready[c] = t + lat
            noc.p_mask[c] = next_mask
            _fifo_append(noc, dq, c)
            _noc_arbitrate_at(noc, heap, down, t + lat)
        else:
            core = tile * cpt + (o - 4)
            if cfg[NOC_MULTICAST]:
                m = msg_ptr[noc.p_key[h]]
                while msg_core[m] != core:
                    m += 1
            else:
                m = noc.p_key[h]
            heap_push(heap, t + (f - 1) * cycle, make_key(KIND_MESSAGE, m), m, core)
            noc.meta[META_DELIVERED] += 1
            if last:
                noc.free[noc.meta[META_FREE]] = h
                noc.meta[META_FREE] += 1


@inner
def send_spike_noc(syn, chip, counts, heap, noc, neuron, core, t_ready):
    """``send_spikes`` for one spike, with contention: the messages enter the network as packets.

    Unicast: as ``send_spikes``, one packet per message. Multicast: one ``message_out`` and one
    packet per spike; hops count the edges of the spike's XY tree.
    """
    cfg = noc.cfg
    t_out = chip.core_lat[core, CORE_MESSAGE_OUT]
    t = t_ready + spike_cost(chip.timing, chip.is_input, chip.core_lat, counts, neuron, core)
    if cfg[NOC_MULTICAST]:
        if syn.msg_ptr[neuron + 1] > syn.msg_ptr[neuron]:
            t += t_out
            counts[core, MESSAGE_OUT] += 1
            counts[core, ROUTER] += 1
            counts[core, HOP_EAST] += noc.tree_hops[neuron, 0]
            counts[core, HOP_WEST] += noc.tree_hops[neuron, 1]
            counts[core, HOP_NORTH] += noc.tree_hops[neuron, 2]
            counts[core, HOP_SOUTH] += noc.tree_hops[neuron, 3]
            noc_inject(noc, heap, t, core, neuron, -1, cfg[NOC_FLITS])
        return t
    x0 = chip.core_x[core]
    y0 = chip.core_y[core]
    width, height, torus = chip.geometry[0], chip.geometry[1], chip.geometry[2] != 0
    multi = chip.geometry[3] > 1
    link_ptr = chip.msg_link_ptr
    route_hops, route_ps, link = chip.msg_route_hops, chip.msg_route_ps, chip.msg_link
    wire_bits, busy_ps, stats = chip.link_wire_bits, chip.link_busy_ps, chip.link_stats
    for m in range(syn.msg_ptr[neuron], syn.msg_ptr[neuron + 1]):
        dest = syn.msg_core[m]
        t += t_out
        counts[core, MESSAGE_OUT] += 1
        counts[core, ROUTER] += 1
        if multi and link_ptr[m + 1] > link_ptr[m]:
            # The same counts; the network times the packet.
            cross_chip(route_hops, route_ps, link_ptr, link, wire_bits, busy_ps, stats, counts,
                       core, m)
        else:
            east, west, north, south = xy_hops(x0, y0, chip.core_x[dest], chip.core_y[dest],
                                               width, height, torus)
            counts[core, HOP_EAST] += east
            counts[core, HOP_WEST] += west
            counts[core, HOP_NORTH] += north
            counts[core, HOP_SOUTH] += south
        noc_inject(noc, heap, t, core, m, dest, cfg[NOC_FLITS])
    return t


@dataclass(frozen=True, eq=False)
class LinkStats:
    """Per-link counters of the contention model, one entry per router output.

    ``port`` is 0..3 for the link leaving ``tile`` east, west, north, south and ``4 + k`` for
    the ejection port to core ``k`` of the tile (``core = tile * cores_per_tile + k``). All
    arrays are int64 of shape ``(n_links,)``; times in picoseconds.

    Attributes
    ----------
    packets, flits : packets and flits the link carried.
    busy_ps : time the link spent moving flits (``flits * cycle``).
    max_queue_flits : largest occupancy of the input buffer the link feeds (0 for ejection).
    blocked_ps : time the link sat idle with a packet waiting for room downstream.
    """

    tile: np.ndarray
    port: np.ndarray
    packets: np.ndarray
    flits: np.ndarray
    busy_ps: np.ndarray
    max_queue_flits: np.ndarray
    blocked_ps: np.ndarray

    @classmethod
    def from_state(cls, noc, n_tiles: int, before: np.ndarray | None = None) -> "LinkStats":
        """Counters of ``noc`` (minus the snapshot ``before`` of ``link_stats``, if given)."""
        st = noc.link_stats.copy()
        if before is not None:
            st[:, :LINK_MAX_QUEUE_FLITS] -= before[:, :LINK_MAX_QUEUE_FLITS]
            st[:, LINK_BLOCKED_PS] -= before[:, LINK_BLOCKED_PS]
        n_ports = int(noc.cfg[NOC_PORTS])
        idx = np.arange(n_tiles * n_ports, dtype=np.int64)
        return cls(idx // n_ports, idx % n_ports, st[:, LINK_PACKETS], st[:, LINK_FLITS],
                   st[:, LINK_BUSY_PS], st[:, LINK_MAX_QUEUE_FLITS], st[:, LINK_BLOCKED_PS])

    def utilisation(self, duration_ps: int) -> np.ndarray:
        """Fraction of ``duration_ps`` each link was busy, float64."""
        return self.busy_ps / max(int(duration_ps), 1)


class NocRun(NamedTuple):
    """What :func:`simulate_noc` and ``reference_noc.simulate_noc_reference`` return.

    One row per delivery, sorted by (packet, core): ``packet``, ``core`` and ``t_ps`` (the time
    the packet's tail reaches the core), int64; plus the per-link counters.
    """

    packet: np.ndarray
    core: np.ndarray
    t_ps: np.ndarray
    links: LinkStats


def injection_order(t_inject_ps) -> np.ndarray:
    """Packet numbering of the NoC models: by (injection time, list index)."""
    t = np.asarray(t_inject_ps, dtype=np.int64)
    return np.lexsort((np.arange(t.size), t))


def _destinations(dest_cores, n: int):
    """CSR of each packet's destination cores (sorted, unique)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    cores = []
    for i, d in enumerate(dest_cores):
        d = np.unique(np.atleast_1d(np.asarray(d, dtype=np.int64)))
        cores.append(d)
        ptr[i + 1] = ptr[i] + d.size
    return ptr, (np.concatenate(cores) if cores else np.zeros(0, np.int64)).astype(np.int32)


def simulate_noc(chip, t_inject_ps, src_core, dest_cores) -> NocRun:
    """Run injected packets through the fast engine's contention model (``chip.noc``).

    Packet ``i`` leaves core ``src_core[i]`` at ``t_inject_ps[i]`` (the end of its
    ``message_out``) for ``dest_cores[i]`` (one core, or a list for multicast chips). Packets
    are numbered by (injection time, index); that number breaks arbitration ties. Contention is
    modelled whatever ``chip.noc.contention`` says.
    """
    t = np.asarray(t_inject_ps, dtype=np.int64)
    src = np.asarray(src_core, dtype=np.int64)
    n = t.size
    ptr, cores = _destinations(dest_cores, n)
    if chip.noc.routing != "multicast" and np.any(np.diff(ptr) != 1):
        raise ValueError("a unicast chip takes exactly one destination core per packet; "
                         "set noc.routing: multicast for lists of cores")
    order = injection_order(t)
    noc, push_need = build_noc(chip, ptr, cores, src, capacity=n + len(cores) * 8 + 16)
    heap = new_heap(int(push_need.sum()) + 16)
    out_t = np.full(cores.size, -1, dtype=np.int64)
    _simulate_noc_kernel(noc, heap, ptr, cores, order, t, src, out_t)
    packet = np.repeat(np.arange(n), np.diff(ptr))
    if np.any(out_t < 0):
        raise RuntimeError("the NoC model lost packets: "
                           f"{int((out_t < 0).sum())} deliveries never happened")
    return NocRun(packet, cores.astype(np.int64), out_t, LinkStats.from_state(noc, chip.n_tiles))


@njit(cache=True)
def _simulate_noc_kernel(noc, heap, msg_ptr, msg_core, order, t_inj, src, out_t):
    unicast = noc.cfg[NOC_MULTICAST] == 0
    for seq in range(order.shape[0]):
        i = order[seq]
        # Unicast: key = message index = packet index (one message per packet).
        noc_inject(noc, heap, t_inj[i], src[i], i, msg_core[msg_ptr[i]] if unicast else -1,
                   noc.cfg[NOC_FLITS])
    while heap_size(heap) > 0:
        t, key, a, b = heap_pop(heap)
        if (key >> KIND_SHIFT) == KIND_NOC:
            noc_arbitrate(noc, heap, a, t, msg_ptr, msg_core)
        else:
            out_t[msg_ptr[a] if unicast else a] = t
