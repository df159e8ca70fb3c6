"""Systems of chips: chips on boards joined by chip-to-chip links, boards joined into systems.

A system file (YAML, validated like a chip file) names one chip (every chip of the system is that
chip), the link types, the boards and the links between boards::

    name: loihi2_board_like
    chip: loihi_like              # preset name, or a chip file path relative to this file
    port: {x: 0, y: 0}            # tile of every chip's chip-to-chip interface
    link_types:
      board: {bandwidth_gbit_s: 8, latency_ns: 40, energy_pj_per_bit: 5, overhead_bits: 16}
    boards:
      - {name: b0, chips: 8, topology: mesh, width: 4, height: 2, link: board}
    links:                         # more links, e.g. between boards: "board/chip" labels
      - {between: [b0/0, b1/0], type: backplane}

A system is a :class:`SystemSpec`, a :class:`~hardware.chip.ChipSpec` whose cores are those of
all its chips: chip ``k``'s cores are ``k * C .. (k + 1) * C - 1`` (``C`` cores per chip), its
tiles likewise. It can be used wherever a chip is.

The route of a message between chips is hierarchical: the source chip's mesh (XY) from the
source core's tile to the chip's port tile, then the chip-to-chip links of the shortest path
between the two chips (fewest links; ties go to the lower chip number), entering each chip's
router at its port tile, then the destination chip's mesh from its port tile to the destination
core. ``docs/hardware.md`` has the latency and energy of such a route in closed form.
"""

from __future__ import annotations

import difflib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aersim.hardware.chip import MAX_LATENCY_NS, ChipSpec, ns_to_ps
from aersim.hardware.errors import ChipSpecError

TOPOLOGIES = ("mesh", "triangular", "none")

_LINK_KEYS = {"bandwidth_gbit_s": "a bandwidth in Gbit/s > 0",
              "latency_ns": "a latency in ns >= 0 and at most 1e9 (one second)",
              "energy_pj_per_bit": "an energy in pJ per bit >= 0",
              "overhead_bits": "an integer >= 0 (framing bits added to every packet)",
              "packet_bits": "an integer >= 1 (the packet format the link carries; must be the "
                             "chip's noc.packet_bits)",
              "energy_pj_per_packet": "an energy in pJ per packet >= 0"}
_BOARD_KEYS = ("name", "chips", "topology", "width", "height", "rows", "link")
_TOP_KEYS = ("name", "description", "chip", "port", "link_types", "boards", "links", "barrier",
             "static_power_w", "sources")


@dataclass(frozen=True)
class LinkType:
    """A kind of chip-to-chip link (both directions alike; each direction is its own channel).

    Attributes
    ----------
    name : str
    bandwidth_gbit_s : float
        Bits per nanosecond of one direction.
    latency_ps : int
        Time of flight of a packet's head (serialiser, wire, deserialiser), picoseconds.
    energy_pj_per_bit : float
        Energy of one bit on the link (the packet's bits and the overhead bits).
    overhead_bits : int
        Framing bits added to every packet on the link (headers, CRC, line code).
    energy_pj_per_packet : float
        A fixed energy per packet on the link (0 unless the file gives one).
    """

    name: str
    bandwidth_gbit_s: float
    latency_ps: int
    energy_pj_per_bit: float
    overhead_bits: int = 0
    energy_pj_per_packet: float = 0.0

    def wire_bits(self, packet_bits: int) -> int:
        """Bits one packet of ``packet_bits`` occupies on the link."""
        return int(packet_bits) + self.overhead_bits

    def serialisation_ps(self, packet_bits: int) -> int:
        """Time one packet occupies the link: wire bits / bandwidth, picoseconds (rounded)."""
        return int(round(self.wire_bits(packet_bits) * 1000.0 / self.bandwidth_gbit_s))

    def packet_energy_pj(self, packet_bits: int) -> float:
        """Energy of one packet over the link, picojoules."""
        return self.wire_bits(packet_bits) * self.energy_pj_per_bit + self.energy_pj_per_packet


@dataclass(frozen=True, eq=False)
class SystemSpec(ChipSpec):
    """Chips joined by chip-to-chip links (frozen). Build with :func:`hardware.load_chip`.

    The inherited chip fields describe one member chip (mesh, core, noc); ``static_power_w`` is
    the whole system's. Extra attributes:

    Attributes
    ----------
    member : ChipSpec
        The chip every position of the system holds.
    n_chips : int
    chip_labels : tuple of str
        ``"board/index"`` of every chip, in chip order.
    chip_board : tuple of int
        Board of every chip.
    link_types : tuple of LinkType
    links : tuple of (int, int, int)
        Undirected links ``(chip a, chip b, link type)``; directed link ``2 i`` goes a -> b and
        ``2 i + 1`` goes b -> a.
    port_tile : int
        Local tile of every chip's chip-to-chip interface.
    system_barrier_ps, system_barrier_pj : int, float
        Added to the chip's barrier in a step whose neurons span more than one chip.
    """

    member: ChipSpec | None = None
    n_chips: int = 1
    chip_labels: tuple = ()
    chip_board: tuple = ()
    link_types: tuple = ()
    links: tuple = ()
    port_tile: int = 0
    system_barrier_ps: int = 0
    system_barrier_pj: float = 0.0
    _paths: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_tiles(self) -> int:
        return self.n_chips * self.width * self.height

    @property
    def n_cores(self) -> int:
        return self.n_chips * self.member.n_cores

    @property
    def cores_per_chip(self) -> int:
        return self.member.n_cores

    @property
    def n_links(self) -> int:
        """Directed chip-to-chip links (two per undirected link)."""
        return 2 * len(self.links)

    def core_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Tile coordinates of every core on its own chip: int32 ``(n_cores,)`` each."""
        x, y = self.member.core_xy()
        return np.tile(x, self.n_chips), np.tile(y, self.n_chips)

    def chip_of_core(self, cores) -> np.ndarray:
        """Chip of every core id in ``cores`` (int64)."""
        return np.asarray(cores, dtype=np.int64) // self.member.n_cores

    def core_type_of(self) -> np.ndarray:
        return np.tile(self.member.core_type_of(), self.n_chips)

    def core_specs(self) -> tuple:
        return self.member.core_specs()

    def directed_link(self, d: int) -> tuple[int, int, LinkType]:
        """``(from chip, to chip, link type)`` of directed link ``d``."""
        a, b, t = self.links[d // 2]
        return (a, b, self.link_types[t]) if d % 2 == 0 else (b, a, self.link_types[t])

    def link_label(self, d: int) -> str:
        a, b, t = self.directed_link(d)
        return f"{self.chip_labels[a]}->{self.chip_labels[b]} ({t.name})"

    def chip_path(self, a: int, b: int) -> tuple:
        """Directed links of the route from chip ``a`` to chip ``b`` (empty when equal)."""
        if not self._paths:
            self._paths.update(_all_paths(self.n_chips, self.links))
        return self._paths[(a, b)]

    def barrier_for_chips(self, tiles_per_chip: int, chips_used: int) -> tuple[int, float]:
        """Barrier ``(latency_ps, energy_pj)`` of a step: the chip's barrier for the fullest
        chip's tiles, plus the system's share when the neurons span more than one chip."""
        lat, en = self.member.barrier_for_tiles(tiles_per_chip)
        if chips_used > 1:
            return lat + self.system_barrier_ps, en + self.system_barrier_pj
        return lat, en

    def summary(self) -> str:
        m = self.member
        boards = len(set(self.chip_board))
        types = ", ".join(f"{t.name} {t.bandwidth_gbit_s:g} Gbit/s, {t.latency_ps / 1000:g} ns, "
                          f"{t.energy_pj_per_bit:g} pJ/bit, +{t.overhead_bits} bits/packet"
                          for t in self.link_types)
        degree = np.bincount(np.array([c for a, b, _ in self.links for c in (a, b)], np.int64),
                             minlength=self.n_chips) if self.links else np.zeros(1, np.int64)
        lines = [f"system {self.name}: {self.n_chips} chips of {m.name} on {boards} board(s), "
                 f"{self.n_cores} cores, {len(self.links)} chip-to-chip links (up to "
                 f"{int(degree.max())} per chip), port tile {self.port_tile}",
                 f"  {self.description}" if self.description else "",
                 f"  links: {types}",
                 f"  system barrier +{self.system_barrier_ps / 1000:g} ns, static "
                 f"{self.static_power_w:g} W in all",
                 "  chip: " + m.summary().replace("\n", "\n  ")]
        return "\n".join(line for line in lines if line)


def is_system(chip) -> bool:
    """True for a :class:`SystemSpec` of more than one chip."""
    return isinstance(chip, SystemSpec) and chip.n_chips > 1


def _all_paths(n_chips: int, links) -> dict:
    """Shortest paths (fewest links) between every ordered pair of chips: ``{(a, b): links}``.

    Breadth-first search from every destination over the undirected graph; a chip's next link
    toward the destination is the one to the neighbour nearest to it, ties to the lower chip.
    """
    adj = [[] for _ in range(n_chips)]
    for i, (a, b, _) in enumerate(links):
        adj[a].append((b, 2 * i))          # directed a -> b
        adj[b].append((a, 2 * i + 1))      # directed b -> a
    for nbrs in adj:
        nbrs.sort()
    paths = {}
    for dest in range(n_chips):
        dist = [-1] * n_chips
        dist[dest] = 0
        queue = deque([dest])
        while queue:
            c = queue.popleft()
            for nb, _ in adj[c]:
                if dist[nb] < 0:
                    dist[nb] = dist[c] + 1
                    queue.append(nb)
        for src in range(n_chips):
            route, c = [], src
            while c != dest:
                nb, d = min((nb, d) for nb, d in adj[c] if dist[nb] == dist[c] - 1)
                route.append(d)
                c = nb
            paths[(src, dest)] = tuple(route)
    return paths


# ----------------------------------------------------------------------------------------------
# Loading and validation.

def _fail(where: str, msg: str):
    raise ChipSpecError(f"{where}: {msg}")


def _number(value, where, key, allowed, *, integer=False, positive=False, most=np.inf):
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if ok:
        value = float(value)
        ok = np.isfinite(value) and (value > 0 if positive else value >= 0) and value <= most
        if integer:
            ok = ok and value.is_integer()
    if not ok:
        _fail(where, f"{key} = {value!r} is not allowed; expected {allowed}")
    return int(value) if integer else value


def _mapping(value, where, key, allowed_keys):
    if not isinstance(value, dict):
        _fail(where, f"{key} must be a mapping, got {type(value).__name__}")
    for k in value:
        if k not in allowed_keys:
            close = difflib.get_close_matches(str(k), list(allowed_keys), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            _fail(where, f"unknown key '{key + '.' if key else ''}{k}'{hint} (allowed: "
                         f"{', '.join(allowed_keys)})")
    return value


def _link_types(section, where, packet_bits) -> tuple:
    _mapping(section, where, "link_types", list(section) if isinstance(section, dict) else ())
    if not section:
        _fail(where, "link_types is empty; give at least one, e.g. board: {bandwidth_gbit_s: 8, "
                     "latency_ns: 40, energy_pj_per_bit: 5}")
    out = []
    for name, spec in section.items():
        key = f"link_types.{name}"
        _mapping(spec, where, key, _LINK_KEYS)
        for req in ("bandwidth_gbit_s", "latency_ns", "energy_pj_per_bit"):
            if req not in spec:
                _fail(where, f"missing key '{key}.{req}' ({_LINK_KEYS[req]})")
        if "packet_bits" in spec:
            pb = _number(spec["packet_bits"], where, f"{key}.packet_bits",
                         _LINK_KEYS["packet_bits"], integer=True, positive=True)
            if pb != packet_bits:
                _fail(where, f"{key}.packet_bits = {pb} does not match the chip's packet format "
                             f"(noc.packet_bits = {packet_bits}); links carry the chips' "
                             f"packets unchanged: use packet_bits: {packet_bits} (framing goes "
                             "in overhead_bits)")
        out.append(LinkType(
            name=str(name),
            bandwidth_gbit_s=_number(spec["bandwidth_gbit_s"], where, f"{key}.bandwidth_gbit_s",
                                     _LINK_KEYS["bandwidth_gbit_s"], positive=True),
            latency_ps=ns_to_ps(_number(spec["latency_ns"], where, f"{key}.latency_ns",
                                        _LINK_KEYS["latency_ns"], most=MAX_LATENCY_NS)),
            energy_pj_per_bit=_number(spec["energy_pj_per_bit"], where,
                                      f"{key}.energy_pj_per_bit", _LINK_KEYS["energy_pj_per_bit"]),
            overhead_bits=_number(spec.get("overhead_bits", 0), where, f"{key}.overhead_bits",
                                  _LINK_KEYS["overhead_bits"], integer=True),
            energy_pj_per_packet=_number(spec.get("energy_pj_per_packet", 0.0), where,
                                         f"{key}.energy_pj_per_packet",
                                         _LINK_KEYS["energy_pj_per_packet"])))
    return tuple(out)


def _board_layout(board, where, key, type_names):
    """Chips of one board and its links ``(local a, local b, link type name)``."""
    n = _number(board.get("chips"), where, f"{key}.chips", "an integer >= 1", integer=True,
                positive=True) if "chips" in board else None
    if n is None:
        _fail(where, f"missing key '{key}.chips' (an integer >= 1)")
    topo = board.get("topology", "none")
    if topo not in TOPOLOGIES:
        _fail(where, f"{key}.topology = {topo!r} is not one of {TOPOLOGIES}")
    link = board.get("link")
    if topo != "none":
        if link is None:
            _fail(where, f"missing key '{key}.link' (the link type of the board's "
                         f"{topo} links; one of {', '.join(type_names)})")
        if link not in type_names:
            _fail(where, f"{key}.link = {link!r} is not a link type; known: "
                         f"{', '.join(type_names)}")
    if topo == "none":
        for k in ("width", "height", "rows"):
            if k in board:
                _fail(where, f"{key}.{k} needs {key}.topology: mesh or triangular")
        return n, []
    w = _number(board.get("width"), where, f"{key}.width", "an integer >= 1", integer=True,
                positive=True) if "width" in board else None
    h = _number(board.get("height"), where, f"{key}.height", "an integer >= 1", integer=True,
                positive=True) if "height" in board else None
    if w is None or h is None:
        _fail(where, f"{key}.topology: {topo} needs {key}.width and {key}.height")
    rows = board.get("rows")
    if rows is not None:
        if topo != "triangular":
            _fail(where, f"{key}.rows is only for topology: triangular")
        if not isinstance(rows, list) or len(rows) != h:
            _fail(where, f"{key}.rows must list {h} [first x, last x] pairs (one per row)")
        coords = []
        for y, r in enumerate(rows):
            if not (isinstance(r, list) and len(r) == 2 and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in r)
                    and 0 <= r[0] <= r[1] < w):
                _fail(where, f"{key}.rows[{y}] = {r!r} is not allowed; expected [first x, last "
                             f"x] with 0 <= first <= last < width ({w})")
            coords += [(x, y) for x in range(r[0], r[1] + 1)]
    else:
        coords = [(x, y) for y in range(h) for x in range(w)]
    if len(coords) != n:
        _fail(where, f"{key}.chips = {n} but its {topo} layout has {len(coords)} positions "
                     f"({'rows' if rows is not None else f'width x height = {w} x {h}'})")
    index = {xy: i for i, xy in enumerate(coords)}
    steps = ((1, 0), (0, 1)) if topo == "mesh" else ((1, 0), (0, 1), (1, 1))
    out = [(i, index[(x + dx, y + dy)], link) for i, (x, y) in enumerate(coords)
           for dx, dy in steps if (x + dx, y + dy) in index]
    return n, out


def member_chip_path(data: dict, base: Path | None) -> str:
    """What the system's ``chip`` key names: a preset name, or a chip file path resolved
    against ``base`` (the system file's folder) when relative."""
    from aersim.hardware.chip import preset_names

    chip_ref = data["chip"]
    if chip_ref not in preset_names() and base is not None and not Path(chip_ref).is_absolute():
        chip_ref = str(base / chip_ref)
    return chip_ref


def system_from_dict(data: dict, where: str = "<dict>", base: Path | None = None,
                     member: ChipSpec | None = None) -> SystemSpec:
    """Validate a system description (as parsed from YAML) and build the :class:`SystemSpec`.

    ``base``: folder that relative chip paths are resolved against. ``member``: the chip every
    position holds, instead of the one ``chip`` names (a sweep's chip with overrides applied).
    """
    from aersim.hardware.chip import load_chip

    _mapping(data, where, "", _TOP_KEYS)
    for req in ("name", "chip", "link_types", "boards"):
        if req not in data:
            _fail(where, f"missing key {req!r}")
    if not isinstance(data["name"], str):
        _fail(where, f"name = {data['name']!r} is not valid; expected a name")
    chip_ref = data["chip"]
    if not isinstance(chip_ref, str):
        _fail(where, f"chip = {chip_ref!r} is not valid; expected a preset name or a path")
    if member is None:
        try:
            member = load_chip(member_chip_path(data, base))
        except ChipSpecError as exc:
            _fail(where, f"chip = {data['chip']!r} cannot be loaded: {exc}")
    if isinstance(member, SystemSpec):
        _fail(where, f"chip = {data['chip']!r} is itself a system; give a chip")
    if member.noc.congestion != "none":
        _fail(where, f"chip = {data['chip']!r} uses noc.congestion: {member.noc.congestion}; "
                     "systems model zero-load or contention routes only; use a chip with "
                     "congestion: none")
    if member.noc.contention and member.noc.routing == "multicast":
        _fail(where, f"chip = {data['chip']!r} has noc.contention with multicast routing, "
                     "which is not modelled between chips; use routing: unicast or "
                     "contention: false")
    types = _link_types(data["link_types"], where, member.noc.packet_bits)
    type_names = [t.name for t in types]
    port = _mapping(data.get("port", {}), where, "port", ("x", "y"))
    px = _number(port.get("x", 0), where, "port.x", "an integer tile column", integer=True)
    py = _number(port.get("y", 0), where, "port.y", "an integer tile row", integer=True)
    if px >= member.width or py >= member.height:
        _fail(where, f"port = (x {px}, y {py}) is outside the chip's {member.width} x "
                     f"{member.height} tiles")
    boards = data["boards"]
    if not isinstance(boards, list) or not boards:
        _fail(where, "boards must be a non-empty list of boards")
    labels, chip_board, links, board_index, board_names = [], [], [], {}, []
    for b, board in enumerate(boards):
        key = f"boards[{b}]"
        _mapping(board, where, key, _BOARD_KEYS)
        name = str(board.get("name", f"b{b}"))
        if name in board_index:
            _fail(where, f"{key}.name = {name!r} is used by two boards")
        n, local = _board_layout(board, where, key, type_names)
        first = len(labels)
        board_index[name] = (first, n)
        board_names.append(name)
        labels += [f"{name}/{i}" for i in range(n)]
        chip_board += [b] * n
        links += [(first + a, first + c, type_names.index(t)) for a, c, t in local]
    extra = data.get("links", []) or []
    if not isinstance(extra, list):
        _fail(where, "links must be a list of {between: [board/chip, board/chip], type: NAME}")
    for i, link in enumerate(extra):
        key = f"links[{i}]"
        _mapping(link, where, key, ("between", "type"))
        ends = link.get("between")
        if not isinstance(ends, list) or len(ends) != 2:
            _fail(where, f"{key}.between must be two chips, e.g. [b0/0, b1/0]")
        chips = []
        for label in ends:
            bname, _, idx = str(label).partition("/")
            if bname not in board_index:
                _fail(where, f"{key}.between names chip {label!r} of board {bname!r}, which does "
                             f"not exist; boards: {', '.join(board_names)}")
            first, n = board_index[bname]
            if not idx.isdigit() or int(idx) >= n:
                _fail(where, f"{key}.between names chip {label!r}, which does not exist: board "
                             f"{bname!r} has chips {bname}/0 .. {bname}/{n - 1}")
            chips.append(first + int(idx))
        if chips[0] == chips[1]:
            _fail(where, f"{key}.between links chip {ends[0]!r} to itself")
        t = link.get("type")
        if t not in type_names:
            _fail(where, f"{key}.type = {t!r} is not a link type; known: {', '.join(type_names)}")
        links.append((chips[0], chips[1], type_names.index(t)))
    seen = {}
    for i, (a, b, _) in enumerate(links):
        pair = (min(a, b), max(a, b))
        if pair in seen:
            _fail(where, f"chips {labels[a]} and {labels[b]} are linked twice (give one link per "
                         "pair of chips)")
        seen[pair] = i
    n_chips = len(labels)
    _check_reachable(n_chips, links, labels, where)
    barrier = _mapping(data.get("barrier", {}), where, "barrier", ("latency_ns", "energy_pj"))
    if "latency_ns" in barrier:
        bar_ps = ns_to_ps(_number(barrier["latency_ns"], where, "barrier.latency_ns",
                                  ">= 0 and at most 1e9 (one second)", most=MAX_LATENCY_NS))
    else:
        bar_ps = _default_barrier_ps(n_chips, links, types, member)
    bar_pj = _number(barrier.get("energy_pj", 0.0), where, "barrier.energy_pj", ">= 0")
    static = (_number(data["static_power_w"], where, "static_power_w", ">= 0")
              if "static_power_w" in data else member.static_power_w * n_chips)
    description = data.get("description", "")
    return SystemSpec(
        name=data["name"], description=str(description), width=member.width,
        height=member.height, cores_per_tile=member.cores_per_tile, topology=member.topology,
        execution_mode=member.execution_mode, core=member.core, noc=member.noc,
        barrier_latency_ps=member.barrier_latency_ps, barrier_energy_pj=member.barrier_energy_pj,
        static_power_w=static, sources=dict(data.get("sources", {}) or {}), path=where,
        barrier_table=member.barrier_table, power_gating=member.power_gating,
        core_types=member.core_types, tile_types=member.tile_types,
        member=member, n_chips=n_chips, chip_labels=tuple(labels),
        chip_board=tuple(chip_board), link_types=types, links=tuple(links),
        port_tile=py * member.width + px, system_barrier_ps=bar_ps, system_barrier_pj=bar_pj)


#: Keys of a system file a sweep may vary (``system.<keypath>`` axes): ``link_types.NAME.KEY``
#: for a link type the file defines, and these.
SWEEP_KEYS = ("chip", "port.x", "port.y", "barrier.latency_ns", "barrier.energy_pj",
              "static_power_w")


def check_sweep_keypath(data: dict, keypath: str) -> None:
    """Raise ``ValueError`` (saying what is allowed) unless ``keypath`` is a key of the system
    description ``data`` that a sweep may vary (:data:`SWEEP_KEYS`, ``link_types.NAME.KEY``)."""
    parts = keypath.split(".")
    if parts[0] == "link_types":
        names = list(data.get("link_types") or {}) if isinstance(data, dict) else []
        if len(parts) != 3 or parts[1] not in names or parts[2] not in _LINK_KEYS:
            raise ValueError(f"link_types.NAME.KEY with NAME one of {', '.join(names)} (this "
                             f"system's link types) and KEY one of {', '.join(_LINK_KEYS)}")
        return
    if keypath not in SWEEP_KEYS:
        raise ValueError(f"one of {', '.join(SWEEP_KEYS)} or link_types.NAME.KEY")


def _check_reachable(n_chips, links, labels, where) -> None:
    adj = [[] for _ in range(n_chips)]
    for a, b, _ in links:
        adj[a].append(b)
        adj[b].append(a)
    seen = {0}
    queue = deque([0])
    while queue:
        for nb in adj[queue.popleft()]:
            if nb not in seen:
                seen.add(nb)
                queue.append(nb)
    if len(seen) < n_chips:
        lost = [labels[c] for c in range(n_chips) if c not in seen]
        shown = ", ".join(lost[:6]) + (f" and {len(lost) - 6} more" if len(lost) > 6 else "")
        _fail(where, f"links: chip(s) {shown} cannot be reached from {labels[0]}; add links "
                     "(a board topology, or entries under links) that join them")


def _default_barrier_ps(n_chips, links, types, member) -> int:
    """A barrier's system share when the file gives none: a synchronisation packet travelling
    the system's diameter and back (2 x diameter x the slowest link's latency + serialisation
    + a router). An estimate, documented in docs/hardware.md."""
    if n_chips == 1:
        return 0
    paths = _all_paths(n_chips, links)
    diameter = max(len(p) for p in paths.values())
    per_link = max(t.latency_ps + t.serialisation_ps(member.noc.packet_bits) for t in types)
    return int(2 * diameter * (per_link + member.noc.router_latency_ps))


# ----------------------------------------------------------------------------------------------
# Routes for the engines.

def xy_hops_array(x0, y0, x1, y1, chip) -> np.ndarray:
    """Hops ``(east, west, north, south)`` of XY routes, vectorised (the rule of
    ``hardware.noc.xy_hops``): int64 ``(n, 4)``."""
    dx = np.asarray(x1, dtype=np.int64) - np.asarray(x0, dtype=np.int64)
    dy = np.asarray(y1, dtype=np.int64) - np.asarray(y0, dtype=np.int64)
    if chip.topology == "torus":
        w, h = chip.width, chip.height
        dx = np.where(dx > w // 2, dx - w, np.where(dx < -((w - 1) // 2), dx + w, dx))
        dy = np.where(dy > h // 2, dy - h, np.where(dy < -((h - 1) // 2), dy + h, dy))
    dx, dy = np.broadcast_arrays(dx, dy)
    return np.stack([np.maximum(dx, 0), np.maximum(-dx, 0), np.maximum(-dy, 0),
                     np.maximum(dy, 0)], axis=1)


def message_routes(system: SystemSpec, src_core, dest_core):
    """Hierarchical routes of messages from ``src_core[i]`` to ``dest_core[i]`` (global ids).

    Returns
    -------
    latency_ps : int64 (n,)
        Network latency of each route (0 for messages within one chip, which the engines route
        themselves): the source router, the XY hops to the port tile, for every chip-to-chip link
        its latency and serialisation and the router of the chip it enters, the XY hops from the
        destination chip's port tile.
    hops : int64 (n, 4)
        Tile hops by direction (east, west, north, south) on all chips of the route.
    link_ptr : int64 (n + 1,)
    link : int64 (n_traversals,)
        Directed chip-to-chip links of message ``i``: ``link[link_ptr[i]:link_ptr[i + 1]]``.
    """
    m = system.member
    src = np.asarray(src_core, dtype=np.int64)
    dst = np.asarray(dest_core, dtype=np.int64)
    c = m.n_cores
    a, b = src // c, dst // c
    cross = a != b
    n = src.size
    hops = np.zeros((n, 4), dtype=np.int64)
    lat = np.zeros(n, dtype=np.int64)
    # Tile hops between every local core and the port tile (both ways), by direction.
    xs, ys = m.core_xy()
    px, py = system.port_tile % m.width, system.port_tile // m.width
    to_port = xy_hops_array(xs, ys, px, py, m)                 # (C, 4)
    from_port = xy_hops_array(px, py, xs, ys, m)               # (C, 4)
    hl = np.array([m.noc.hop_latency_ps["east_west"]] * 2
                  + [m.noc.hop_latency_ps["north_south"]] * 2, dtype=np.int64)
    pb = m.noc.packet_bits
    link_lat = np.array([system.directed_link(d)[2].latency_ps
                         + system.directed_link(d)[2].serialisation_ps(pb)
                         for d in range(system.n_links)], dtype=np.int64)
    idx = np.flatnonzero(cross)
    h = to_port[src[idx] % c] + from_port[dst[idx] % c]
    hops[idx] = h
    lat[idx] = m.noc.router_latency_ps + h[:, 0] * hl[0] + h[:, 1] * hl[1] + h[:, 2] * hl[2] \
        + h[:, 3] * hl[3]
    # Paths per (source chip, destination chip) pair, then spread over the messages.
    pair = a[idx] * system.n_chips + b[idx]
    uniq, inv = np.unique(pair, return_inverse=True)
    paths = [np.asarray(system.chip_path(int(q // system.n_chips), int(q % system.n_chips)),
                        dtype=np.int64) for q in uniq]
    plen = np.array([p.size for p in paths], dtype=np.int64)
    plat = np.array([int(link_lat[p].sum()) for p in paths], dtype=np.int64)
    pptr = np.zeros(uniq.size + 1, dtype=np.int64)
    np.cumsum(plen, out=pptr[1:])
    plinks = np.concatenate(paths) if paths else np.zeros(0, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    counts[idx] = plen[inv]
    lat[idx] += plat[inv] + plen[inv] * m.noc.router_latency_ps
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    total = int(ptr[-1])
    # Entry k of message i's run reads its pair's path at pptr[pair] + k.
    start = np.repeat(pptr[inv] - ptr[idx], plen[inv])
    link = plinks[start + np.arange(total, dtype=np.int64)] if total else \
        np.zeros(0, dtype=np.int64)
    return lat, hops, ptr, link
