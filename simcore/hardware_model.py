"""What a spike costs the hardware: the kernels both engines share.

A spike leaves its core as one message per destination core (unicast). The sending core is busy
for ``spike_out`` and then ``message_out`` per message; message ``m`` departs when its
``message_out`` completes and travels the XY route: the router once, then one hop latency per
tile hop (east-west and north-south differ). A receiving core serves messages one at a time, in
order of arrival: ``message_in`` plus ``synaptic_op`` per synapse of the message. Every step of
the way is counted in ``counts[core, OP]`` (see ``hardware.energy.OP_KINDS``).
"""

from numba import njit

from hardware.energy import (
    HOP_EAST,
    HOP_NORTH,
    HOP_SOUTH,
    HOP_WEST,
    MESSAGE_IN,
    MESSAGE_OUT,
    ROUTER,
    SPIKE_OUT,
    SYNAPTIC_OP,
)
from hardware.noc import xy_hops
from simcore.build import (
    LAT_HOP_EW,
    LAT_HOP_NS,
    LAT_MESSAGE_IN,
    LAT_MESSAGE_OUT,
    LAT_ROUTER,
    LAT_SPIKE_OUT,
    LAT_SYNAPTIC_OP,
)
from simcore.queue import heap_push, make_key

#: Kind priority of a message arriving at a core (shared by both engines' queues).
KIND_MESSAGE = 3


@njit(cache=True, inline="always")
def send_spike(syn, chip, counts, heap, neuron, core, t_ready):
    """Emit the messages of ``neuron``'s spike from ``core``, starting at ``t_ready`` (ps).

    Pushes one ``KIND_MESSAGE`` event per destination core, at its arrival time, with the
    message index as tiebreak and payload. Returns the time the core is done sending.
    """
    lat = chip.latency_ps
    x0 = chip.core_x[core]
    y0 = chip.core_y[core]
    width, height, torus = chip.geometry[0], chip.geometry[1], chip.geometry[2] != 0
    counts[core, SPIKE_OUT] += 1
    t = t_ready + lat[LAT_SPIKE_OUT]
    for m in range(syn.msg_ptr[neuron], syn.msg_ptr[neuron + 1]):
        dest = syn.msg_core[m]
        t += lat[LAT_MESSAGE_OUT]
        east, west, north, south = xy_hops(x0, y0, chip.core_x[dest], chip.core_y[dest],
                                           width, height, torus)
        arrive = t + lat[LAT_ROUTER] + (east + west) * lat[LAT_HOP_EW] \
            + (north + south) * lat[LAT_HOP_NS]
        counts[core, MESSAGE_OUT] += 1
        counts[core, ROUTER] += 1
        counts[core, HOP_EAST] += east
        counts[core, HOP_WEST] += west
        counts[core, HOP_NORTH] += north
        counts[core, HOP_SOUTH] += south
        heap_push(heap, arrive, make_key(KIND_MESSAGE, m), m, 0)
    return t


@njit(cache=True, inline="always")
def serve_message(syn, chip, counts, core_free, m, t_arrive, mlog, mlog_meta):
    """Serve message ``m`` arriving at its destination core at ``t_arrive``; return its end time.

    The core starts when it is free (``core_free``, updated here) and spends ``message_in`` plus
    ``synaptic_op`` per synapse of the message. When the message log ``mlog`` (int64
    ``(capacity, 4)``: message, arrival, service start, service end) has rows, the message is
    appended to it (``mlog_meta[0]`` rows used).
    """
    lat = chip.latency_ps
    dest = syn.msg_core[m]
    n_syn = syn.seg_lo[syn.msg_seg_lo[m + 1]] - syn.seg_lo[syn.msg_seg_lo[m]]
    start = t_arrive if t_arrive > core_free[dest] else core_free[dest]
    end = start + lat[LAT_MESSAGE_IN] + n_syn * lat[LAT_SYNAPTIC_OP]
    core_free[dest] = end
    if mlog.shape[0] > 0:
        row = mlog_meta[0]
        mlog[row, 0] = m
        mlog[row, 1] = t_arrive
        mlog[row, 2] = start
        mlog[row, 3] = end
        mlog_meta[0] = row + 1
    counts[dest, MESSAGE_IN] += 1
    counts[dest, SYNAPTIC_OP] += n_syn
    return end
