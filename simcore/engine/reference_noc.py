"""A plain SimPy model of the network-on-chip with contention, to check the fast model against.

It implements the rules of ``docs/engine.md`` ("Network-on-chip contention") with one process
per router input port and one per router output, and none of the fast model's bookkeeping:

- an input port is a ``simpy.Store`` (FIFO) of packets; a link's input buffer is a
  ``simpy.Container`` of ``buffer_flits`` flits, and the upstream output *puts* a packet's flits
  into it before sending, so a full buffer blocks the sender (back-pressure);
- the input-port process takes its head packet, waits until the head has arrived and the port
  has finished its previous packet, asks every output the packet needs (one, or several for a
  multicast branch point), waits for all grants, frees its buffer space and stays busy for the
  packet's flits;
- an output process waits for requests, lets the current instant finish (so that all requests
  of that instant compete), grants the oldest (request time, packet number), waits for room
  downstream if needed, and is then busy for ``flits * cycle``;
- multicast routes are recomputed at each router from the packet's destination list;
- in a system of chips (``hardware.system``), tiles are numbered globally; a packet for another
  chip goes XY to its chip's port tile and leaves by the port of the first link of
  ``SystemSpec.chip_path``; a chip-to-chip link is an output like a mesh link, busy for the
  link's serialisation time per packet, whose head reaches the next chip's port-tile router
  after the link's latency, the serialisation and that router's latency.

Run it with :func:`simulate_noc_reference`; ``simcore.engine.hardware_model.simulate_noc`` runs the
same packets through the fast model and returns the same
:class:`~simcore.engine.hardware_model.NocRun`.
"""

from __future__ import annotations

import numpy as np
import simpy

from aersim.hardware.noc import neighbour_tile, xy_next_output
from aersim.simcore.engine.hardware_model import LinkStats, NocRun, _destinations, injection_order

#: Priority of the "end of the instant" event: after every ordinary event at the same time.
_LATE = 2


class _Packet:
    """One packet (or one branch of a multicast packet) at one router."""

    def __init__(self, number, flits, dests, ready):
        self.number = number          # order of injection: arbitration tiebreak
        self.flits = flits
        self.dests = dests            # destination cores still served by this branch
        self.ready = ready            # time its head reaches the router's output stage


class _Request:
    def __init__(self, env, packet, t):
        self.packet = packet
        self.t = t
        self.grant = env.event()


class ReferenceNoc:
    """The network of ``chip`` as SimPy processes (contention on, whatever the chip says)."""

    def __init__(self, chip):
        self.env = simpy.Environment()
        n = chip.noc
        self.chip = chip
        self.cpt = chip.cores_per_tile
        self.width, self.height = chip.width, chip.height
        self.torus = chip.topology == "torus"
        self.n_ports = 4 + self.cpt
        self.n_chips = getattr(chip, "n_chips", 1)
        if self.n_chips > 1:
            # Port 4 + cpt + k of a chip sends on its k-th outgoing link (by link id) and
            # receives the reverse of that link.
            self.out_links = [[d for d in range(chip.n_links) if chip.directed_link(d)[0] == a]
                              for a in range(self.n_chips)]
            self.n_ports += max(len(x) for x in self.out_links)
        self.cycle = n.cycle_ps
        self.router = n.router_latency_ps
        self.hop = (n.hop_latency_ps["east_west"],) * 2 + (n.hop_latency_ps["north_south"],) * 2
        n_all = chip.n_tiles * self.n_ports
        self.fifo = [simpy.Store(self.env) for _ in range(n_all)]
        self.buffer = [simpy.Container(self.env, capacity=n.buffer_flits) for _ in range(n_all)]
        self.requests = [[] for _ in range(n_all)]
        self.wake = [None] * n_all
        self.stats = np.zeros((n_all, 5), dtype=np.int64)
        self.deliveries = []
        for p in range(n_all):
            self.env.process(self._input_port(p))
            self.env.process(self._output(p))

    def inject(self, number, t, core, dests, flits):
        """Queue a packet at ``core``'s injection port; it leaves the core at ``t``."""
        tile = core // self.cpt
        packet = _Packet(number, flits, sorted(dests), t + self.router)
        self.fifo[tile * self.n_ports + 4 + core % self.cpt].put(packet)

    def run(self):
        self.env.run()

    # -- helpers ---------------------------------------------------------------------------

    def _end_of_instant(self):
        """An event that fires after every ordinary event of the current instant."""
        ev = self.env.event()
        ev._ok = True
        ev._value = None
        self.env.schedule(ev, _LATE)
        return ev

    def _output_for(self, tile, dest):
        """Output a packet at ``tile`` takes toward core ``dest``."""
        if self.n_chips == 1:
            return int(xy_next_output(tile, dest, self.cpt, self.width, self.height,
                                      self.torus))
        n_t = self.width * self.height
        a, local = divmod(tile, n_t)
        b, dest_local = divmod(dest, n_t * self.cpt)
        if a == b:
            return int(xy_next_output(local, dest_local, self.cpt, self.width, self.height,
                                      self.torus))
        port = self.chip.port_tile
        if local != port:
            return int(xy_next_output(local, port * self.cpt, self.cpt, self.width,
                                      self.height, self.torus))
        first = self.chip.chip_path(a, b)[0]
        return 4 + self.cpt + self.out_links[a].index(first)

    def _downstream(self, tile, o):
        """``(tile, input port, head delay, busy time per packet)`` of output ``o``'s link."""
        n_t = self.width * self.height
        if o < 4:
            off = (tile // n_t) * n_t
            down = off + neighbour_tile(tile - off, o, self.width, self.height)
            return down, o, self.hop[o], None
        a = tile // n_t
        d = self.out_links[a][o - 4 - self.cpt]
        _, b, link = self.chip.directed_link(d)
        busy = link.serialisation_ps(self.chip.noc.packet_bits)
        k_in = self.out_links[b].index(d ^ 1)
        return (b * n_t + self.chip.port_tile, 4 + self.cpt + k_in,
                link.latency_ps + busy + self.router, busy)

    def _branches(self, tile, dests):
        """Destinations grouped by the output they take at ``tile``."""
        out = {}
        for d in dests:
            out.setdefault(self._output_for(tile, d), []).append(d)
        return out

    # -- processes -------------------------------------------------------------------------

    def _input_port(self, p):
        env = self.env
        tile = p // self.n_ports
        while True:
            packet = yield self.fifo[p].get()
            if packet.ready > env.now:
                yield env.timeout(packet.ready - env.now)
            requests = []
            for o, dests in sorted(self._branches(tile, packet.dests).items()):
                branch = _Packet(packet.number, packet.flits, dests, None)
                req = _Request(env, branch, env.now)
                link = tile * self.n_ports + o
                self.requests[link].append(req)
                if self.wake[link] is not None and not self.wake[link].triggered:
                    self.wake[link].succeed()
                requests.append(req.grant)
            yield simpy.AllOf(env, requests)
            if p % self.n_ports < 4 or p % self.n_ports >= 4 + self.cpt:
                yield self.buffer[p].get(packet.flits)
            yield env.timeout(max(ev.value for ev in requests))

    def _output(self, link):
        env = self.env
        tile, o = divmod(link, self.n_ports)
        while True:
            if not self.requests[link]:
                self.wake[link] = env.event()
                yield self.wake[link]
            yield self._end_of_instant()
            req = min(self.requests[link], key=lambda r: (r.t, r.packet.number))
            self.requests[link].remove(req)
            packet = req.packet
            waited_from = env.now
            forward = o < 4 or o >= 4 + self.cpt
            busy = packet.flits * self.cycle
            if forward:
                down, in_port, delay, link_busy = self._downstream(tile, o)
                busy = busy if link_busy is None else link_busy
                dport = down * self.n_ports + in_port
                yield self.buffer[dport].put(packet.flits)   # blocks while the buffer is full
                self.stats[link, 3] = max(self.stats[link, 3], self.buffer[dport].level)
            self.stats[link, 4] += env.now - waited_from
            self.stats[link, 0] += 1
            self.stats[link, 1] += packet.flits
            self.stats[link, 2] += busy
            req.grant.succeed(busy)
            if forward:
                packet.ready = env.now + delay
                self.fifo[dport].put(packet)
            else:
                self.deliveries.append((packet.number, packet.dests[0],
                                        env.now + (packet.flits - 1) * self.cycle))
            yield env.timeout(busy)


def simulate_noc_reference(chip, t_inject_ps, src_core, dest_cores, flits=None) -> NocRun:
    """Run injected packets through the SimPy NoC; same arguments as ``simulate_noc``.

    ``flits`` (per packet) defaults to the chip's ``noc.flits``.
    """
    t = np.asarray(t_inject_ps, dtype=np.int64)
    src = np.asarray(src_core, dtype=np.int64)
    ptr, cores = _destinations(dest_cores, t.size)
    f = np.full(t.size, chip.noc.flits, dtype=np.int64) if flits is None else \
        np.asarray(flits, dtype=np.int64)
    net = ReferenceNoc(chip)
    rank = np.empty(t.size, dtype=np.int64)
    rank[injection_order(t)] = np.arange(t.size)
    for i in injection_order(t):
        net.inject(int(rank[i]), int(t[i]), int(src[i]), cores[ptr[i]:ptr[i + 1]].tolist(),
                   int(f[i]))
    net.run()
    by_rank = np.argsort(rank)   # rank -> packet index
    rows = sorted((int(by_rank[num]), core, tt) for num, core, tt in net.deliveries)
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    st = net.stats
    idx = np.arange(st.shape[0], dtype=np.int64)
    links = LinkStats(idx // net.n_ports, idx % net.n_ports, st[:, 0], st[:, 1], st[:, 2],
                      st[:, 3], st[:, 4])
    return NocRun(arr[:, 0], arr[:, 1], arr[:, 2], links)
