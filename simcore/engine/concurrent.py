"""Timestep hardware timeline with receiving concurrent to the update pass (``core.receive``).

Every core has two timelines in a step, both starting at 0:

* **send**: its update pass, neuron after neuron in id order (``neuron_update`` or, on chips
  that price it, ``neuron_idle`` each); a neuron that spikes adds ``spike_out`` (or
  ``input_spike``) and one ``message_out`` per destination core, and message ``m`` departs when
  its ``message_out`` ends. The pass ends after its last neuron and last message. All at the
  core's own type's latencies (``ChipTables.core_lat``).
* **receive**: the messages that reach the core, served one at a time (``message_in`` plus the
  synapse work of the message by storage kind), in the global order of their departures.

A spike's messages leave in the order of its destination cores, numbered as ``core.send_order``
says (``ChipTables.msg_send``). Messages are taken in the order of departure over
the whole chip (ties: lower core first). A
message reaches its core after the zero-load network latency (router + hops; between chips of
a system, the hierarchical route of ``hardware.system.message_routes``) and is served when
it has arrived and the core's receive timeline is free. The core is done when both timelines
are; the step ends when the last core is done, plus the barrier.

With ``noc.congestion: flow`` the network delay follows the flow-density estimate that SANA-FE
uses in its "detailed" timing model (Boyle et al., IEEE TCAD 2025; semantics written out in
``docs/hardware.md``): a message is *in flight* from its departure until its service starts.
Each message in flight adds ``1 / (h + 2)`` to the load of each of the ``h + 1`` links of its
route (the source core's port into its router and the input link of every tile it enters; ``h``
hops). When a message departs, its route load ``L`` is the sum over those links and ``d`` the
mean service time of the messages in flight; if ``L > (h + 1) B`` (``B`` the messages a link
buffers) the sender is blocked for ``(L - (h + 1) B) d`` (its later messages shift by as
much), and the message's network delay is ``max(zero-load latency, L d / (h + 1))``.
"""

import numpy as np
from numba import njit

from aersim.hardware.energy import (
    HOP_EAST,
    HOP_NORTH,
    HOP_SOUTH,
    HOP_WEST,
    MESSAGE_IN,
    MESSAGE_OUT,
    ROUTER,
)
from aersim.hardware.noc import xy_hops
from aersim.simcore.engine.build import (
    CORE_MESSAGE_OUT,
    LAT_HOP_EW,
    LAT_HOP_NS,
    LAT_MESSAGE_IN,
    LAT_ROUTER,
    TIMING_BUFFER_MSGS,
    TIMING_FLOW,
)
from aersim.simcore.engine.hardware_model import (
    count_synapses,
    cross_chip,
    log_message,
    spike_cost,
)
from aersim.simcore.engine.inner import inner


@njit(cache=True, inline="always")
def _before(t, v, i, j):
    return t[i] < t[j] or (t[i] == t[j] and v[i] < v[j])


@inner
def _push(t, v, size, tn, vn):
    """Push ``(tn, vn)`` on the binary heap held in ``t``/``v`` of ``size`` entries."""
    i = size
    t[i] = tn
    v[i] = vn
    while i > 0:
        p = (i - 1) >> 1
        if not _before(t, v, i, p):
            break
        t[i], t[p] = t[p], t[i]
        v[i], v[p] = v[p], v[i]
        i = p
    return size + 1


@inner
def _pop(t, v, size):
    """Remove the smallest entry (read it at index 0 first); return the new size."""
    size -= 1
    t[0] = t[size]
    v[0] = v[size]
    i = 0
    while True:
        a = 2 * i + 1
        if a >= size:
            break
        b = a + 1
        c = b if b < size and _before(t, v, b, a) else a
        if not _before(t, v, c, i):
            break
        t[i], t[c] = t[c], t[i]
        v[i], v[c] = v[c], v[i]
        i = c
    return size


@inner
def _route_links(chip, src, dest, links):
    """Fill ``links`` with the link ids of the XY route from core ``src`` to ``dest``; return
    how many (``hops + 1``). Link ``tile * (4 + cpt) + d`` is the input of ``tile`` from
    direction ``d`` (0 east, 1 west, 2 north, 3 south: the direction of travel), link
    ``tile * (4 + cpt) + 4 + k`` the port of the tile's core ``k``."""
    width, height, torus = chip.geometry[0], chip.geometry[1], chip.geometry[2] != 0
    cpt = chip.core_x.shape[0] // (width * height)
    ports = 4 + cpt
    x = chip.core_x[src]
    y = chip.core_y[src]
    east, west, north, south = xy_hops(x, y, chip.core_x[dest], chip.core_y[dest], width,
                                       height, torus)
    links[0] = (y * width + x) * ports + 4 + src % cpt
    n = 1
    for d, steps in ((0, east), (1, west), (2, north), (3, south)):
        for _ in range(steps):
            if d == 0:
                x = x + 1 if x + 1 < width else 0
            elif d == 1:
                x = x - 1 if x > 0 else width - 1
            elif d == 2:
                y = y - 1 if y > 0 else height - 1
            else:
                y = y + 1 if y + 1 < height else 0
            links[n] = (y * width + x) * ports + d
            n += 1
    return n


@inner
def concurrent_timeline(neurons, syn, chip, counts, core_free, spiked, n_sp, upd_end,
                        pass_ps, mlog, mlog_meta):
    """One step's timeline (see the module doc); ``core_free[c]`` receives when core ``c`` is
    done. ``upd_end[s]`` is when neuron ``s``'s update ends within its core's pass and
    ``pass_ps[c]`` the length of core ``c``'s update pass (ps)."""
    lat = chip.latency_ps
    n_cores = core_free.shape[0]
    # The step's spikes by core (``spiked`` is in id order, so each core's stay in pass order).
    first = np.zeros(n_cores + 1, dtype=np.int64)
    n_msg = 0
    for i in range(n_sp):
        s = spiked[i]
        first[neurons.core[s] + 1] += syn.msg_ptr[s + 1] - syn.msg_ptr[s]
        n_msg += syn.msg_ptr[s + 1] - syn.msg_ptr[s]
    for c in range(n_cores):
        first[c + 1] += first[c]
    fill = first[:n_cores].copy()
    seq_m = np.empty(n_msg, dtype=np.int64)
    seq_t = np.empty(n_msg, dtype=np.int64)
    extra = np.zeros(n_cores, dtype=np.int64)
    for i in range(n_sp):
        s = spiked[i]
        c = neurons.core[s]
        t = upd_end[s] + extra[c] + spike_cost(chip.timing, chip.is_input, chip.core_lat,
                                               counts, s, c)
        for i_m in range(syn.msg_ptr[s], syn.msg_ptr[s + 1]):
            t += chip.core_lat[c, CORE_MESSAGE_OUT]
            seq_m[fill[c]] = chip.msg_send[i_m] if chip.msg_send.shape[0] else i_m
            seq_t[fill[c]] = t
            fill[c] += 1
        extra[c] = t - upd_end[s]
    # Global order of departures: one pending message per core.
    hq_t = np.empty(n_cores, dtype=np.int64)
    hq_c = np.empty(n_cores, dtype=np.int64)
    # Counters start as typed int64 (not literal 0s, which would compile _push/_pop twice).
    nq = np.int64(0)
    for c in range(n_cores):
        if first[c + 1] > first[c]:
            nq = _push(hq_t, hq_c, nq, seq_t[first[c]], c)
    flow = chip.timing[TIMING_FLOW] != 0
    multi = chip.geometry[3] > 1
    buffer = chip.timing[TIMING_BUFFER_MSGS]
    ports = 4 + chip.core_x.shape[0] // (chip.geometry[0] * chip.geometry[1])
    load = np.zeros(chip.geometry[0] * chip.geometry[1] * ports, dtype=np.float64)
    links = np.empty(chip.geometry[0] + chip.geometry[1] + 2, dtype=np.int64)
    fl_t = np.empty(n_msg if flow else 0, dtype=np.int64)   # in flight: service start, message
    fl_m = np.empty(n_msg if flow else 0, dtype=np.int64)
    n_fl = np.int64(0)
    sum_service = 0.0
    shift = np.zeros(n_cores, dtype=np.int64)
    recv_free = np.zeros(n_cores, dtype=np.int64)
    service = np.zeros(n_msg if flow else 0, dtype=np.int64)
    src_of = np.empty(n_msg if flow else 0, dtype=np.int64)
    seq_of = np.empty(n_msg if flow else 0, dtype=np.int64)
    pos = first[:n_cores].copy()
    k = np.int64(0)
    while nq > 0:
        t = hq_t[0]
        c = hq_c[0]
        nq = _pop(hq_t, hq_c, nq)
        m = seq_m[pos[c]]
        dest = syn.msg_core[m]
        counts[c, MESSAGE_OUT] += 1
        counts[c, ROUTER] += 1
        if multi and chip.msg_link_ptr[m + 1] > chip.msg_link_ptr[m]:
            # Between chips of a system: the precomputed route (no flow estimate in systems).
            net = cross_chip(chip.msg_route_hops, chip.msg_route_ps, chip.msg_link_ptr,
                             chip.msg_link, chip.link_wire_bits, chip.link_busy_ps,
                             chip.link_stats, counts, c, m)
            hops = 0
        else:
            east, west, north, south = xy_hops(chip.core_x[c], chip.core_y[c],
                                               chip.core_x[dest], chip.core_y[dest],
                                               chip.geometry[0], chip.geometry[1],
                                               chip.geometry[2] != 0)
            counts[c, HOP_EAST] += east
            counts[c, HOP_WEST] += west
            counts[c, HOP_NORTH] += north
            counts[c, HOP_SOUTH] += south
            hops = east + west + north + south
            net = lat[LAT_ROUTER] + (east + west) * lat[LAT_HOP_EW] \
                + (north + south) * lat[LAT_HOP_NS]
        work = lat[LAT_MESSAGE_IN] + chip.msg_syn_ps[m]
        n_links = 0
        if flow:
            # Messages whose service has started by now have left the network.
            while n_fl > 0 and fl_t[0] <= t:
                g = fl_m[0]
                n_fl = _pop(fl_t, fl_m, n_fl)
                n_g = _route_links(chip, src_of[g], syn.msg_core[seq_of[g]], links)
                for q in range(n_g):
                    load[links[q]] -= 1.0 / (n_g + 1)
                sum_service -= service[g]
            n_links = _route_links(chip, c, dest, links)
            route = 0.0
            for q in range(n_links):
                route += load[links[q]]
            mean = sum_service / n_fl if n_fl > 0 else 0.0
            capacity = float((hops + 1) * buffer)
            if route > capacity:
                block = np.int64(round((route - capacity) * mean))
                t += block
                shift[c] += block
            congestion = np.int64(round(route * mean / (hops + 1)))
            if congestion > net:
                net = congestion
        arrive = t + net
        start = arrive if arrive > recv_free[dest] else recv_free[dest]
        end = start + work
        recv_free[dest] = end
        counts[dest, MESSAGE_IN] += 1
        count_synapses(chip.msg_syn_n, counts, m, dest)
        if mlog.shape[0] > 0:
            log_message(mlog, mlog_meta, m, arrive, start, end)
        if flow:
            for q in range(n_links):
                load[links[q]] += 1.0 / (n_links + 1)
            service[k] = work
            src_of[k] = c
            seq_of[k] = m
            n_fl = _push(fl_t, fl_m, n_fl, start, k)
            sum_service += work
        k += 1
        pos[c] += 1
        if pos[c] < first[c + 1]:
            nq = _push(hq_t, hq_c, nq, seq_t[pos[c]] + shift[c], c)
    for c in range(n_cores):
        send_end = pass_ps[c] + extra[c] + shift[c]
        core_free[c] = send_end if send_end > recv_free[c] else recv_free[c]
