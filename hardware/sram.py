"""SRAM banks: per-access energy, latency and leakage from CACTI 7, and synapse-memory sizing.

The numbers are the CACTI 7.0 sweep of the project's hardware-numbers note, §3.1 [C]: a
direct-mapped RAM, one read/write port, one bank, block = word = output bus, ECC off, 330 K,
``ED^2`` optimisation, cell and peripheral devices both of one flavour (``hp``, ``lop``,
``lstp``). CACTI has no 28 nm: as the note says, other nodes are interpolated linearly between
the tabulated 22, 32 and 45 nm. Between table sizes, values are interpolated linearly in
``log2(size)``, so every quantity is exact at table points and monotone in size (the table is).

What the table does not give, and the choice made here:

- write energy: CACTI's read figure times ``write_factor`` (default 1.0) [U];
- leakage and access time are tabulated for 32-bit words only; they are used for 64-bit too;
- word widths between 32 and 64 bits are interpolated linearly; narrower fields are packed into
  32-bit words (see :func:`synapse_memory_bytes`), wider ones are an error;
- sizes outside 4 KB .. 1 MB and nodes outside 22 .. 45 nm are an error (no extrapolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aersim.hardware.errors import ChipSpecError, HardwareError

FLAVOURS = ("hp", "lop", "lstp")
NODES_NM = (22, 32, 45)
SIZES_KB = (4, 8, 16, 32, 64, 128, 256, 1024)

# Columns: read pJ (hp 32b, hp 64b, lop 32b, lop 64b, lstp 32b, lstp 64b); leakage mW per bank
# (hp, lop, lstp; 32-bit configuration); random access time ns (hp, lop, lstp; 32-bit); area mm²
# (lop, 32-bit). Rows follow SIZES_KB. Transcribed from hardware-numbers §3.1 tables [C].
_CACTI = {
    22: np.array([
        (0.91, 1.09, 0.62, 0.74, 0.96, 1.17, 0.423, 0.238, 0.000604, 0.10, 0.27, 0.47, 0.0034),
        (1.32, 1.50, 1.18, 1.40, 1.82, 1.59, 0.832, 0.434, 0.0011, 0.13, 0.31, 0.52, 0.0066),
        (2.55, 2.89, 1.33, 1.65, 2.07, 2.64, 1.5, 0.867, 0.0022, 0.16, 0.42, 0.68, 0.0141),
        (2.91, 3.50, 1.60, 2.12, 2.55, 3.79, 3.01, 1.73, 0.0044, 0.24, 0.56, 0.88, 0.0291),
        (3.62, 4.69, 2.78, 3.52, 4.36, 5.67, 6.02, 3.17, 0.00805, 0.34, 0.64, 0.98, 0.0569),
        (4.68, 7.49, 3.38, 4.50, 5.41, 7.40, 12.0, 6.26, 0.0159, 0.47, 0.82, 1.24, 0.1074),
        (6.19, 9.93, 4.48, 6.98, 7.37, 11.86, 24.0, 12.5, 0.0317, 0.63, 1.09, 1.61, 0.2162),
        (12.70, 18.44, 8.90, 12.80, 14.75, 23.47, 87.4, 49.7, 0.126, 1.03, 1.76, 2.57, 0.7662),
    ]),
    32: np.array([
        (1.86, 1.59, 0.98, 1.15, 2.17, 2.66, 0.854, 0.353, 0.000443, 0.17, 0.34, 0.68, 0.0071),
        (2.57, 2.91, 1.86, 2.17, 2.96, 3.44, 1.69, 0.654, 0.000873, 0.21, 0.38, 0.84, 0.0141),
        (4.91, 5.53, 2.06, 2.52, 4.66, 6.55, 3.15, 1.31, 0.00164, 0.24, 0.53, 0.97, 0.0300),
        (5.60, 8.51, 2.45, 3.18, 5.78, 8.26, 6.3, 2.61, 0.00327, 0.37, 0.70, 1.24, 0.0619),
        (6.95, 12.03, 4.29, 5.33, 9.82, 12.87, 12.6, 4.75, 0.00595, 0.53, 0.78, 1.36, 0.1207),
        (11.82, 14.45, 5.15, 6.70, 12.27, 18.16, 22.8, 9.36, 0.0118, 0.59, 1.00, 1.70, 0.2280),
        (14.73, 19.09, 6.69, 10.30, 18.51, 26.82, 45.3, 18.7, 0.0234, 0.81, 1.32, 2.08, 0.4590),
        (24.39, 38.36, 12.97, 18.39, 34.44, 52.03, 181.0, 74.4, 0.0888, 1.44, 2.09, 3.31, 1.6246),
    ]),
    45: np.array([
        (2.54, 2.92, 1.99, 2.34, 2.86, 3.39, 3.65, 0.041, 0.000373, 0.27, 0.52, 1.02, 0.0141),
        (4.66, 5.29, 2.81, 3.16, 5.25, 6.14, 6.78, 0.0809, 0.000692, 0.29, 0.65, 1.06, 0.0257),
        (8.87, 9.99, 5.40, 6.03, 9.98, 11.61, 12.8, 0.153, 0.00129, 0.32, 0.71, 1.14, 0.0500),
        (13.80, 14.92, 6.10, 7.23, 11.79, 17.04, 25.4, 0.306, 0.00259, 0.41, 0.98, 1.52, 0.1061),
        (16.04, 28.98, 8.65, 13.07, 17.80, 25.87, 50.8, 0.563, 0.00477, 0.64, 1.22, 1.81, 0.2387),
        (21.22, 32.96, 10.38, 15.54, 25.30, 32.29, 93.1, 1.11, 0.00942, 0.83, 1.55, 2.11, 0.4616),
        (26.35, 40.63, 15.79, 20.31, 32.92, 44.72, 185.0, 2.21, 0.0187, 1.14, 1.87, 2.72, 0.8217),
        (41.29, 67.69, 25.71, 41.76, 68.36, 93.52, 813.0, 8.81, 0.071, 2.03, 3.07, 4.00, 3.2123),
    ]),
}
_READ_COL = {f: (2 * i, 2 * i + 1) for i, f in enumerate(FLAVOURS)}
_LEAK_COL = {f: 6 + i for i, f in enumerate(FLAVOURS)}
_TIME_COL = {f: 9 + i for i, f in enumerate(FLAVOURS)}
_AREA_COL = 12


@dataclass(frozen=True)
class SramSpec:
    """One SRAM bank (frozen; validated on construction).

    Attributes
    ----------
    size_bytes : int
        Capacity, bytes (> 0).
    word_bits : int
        Width of one access, bits (> 0).
    read_energy_pj, write_energy_pj : float
        Dynamic energy of one word read / write, picojoules (>= 0).
    access_latency_ns : float
        Random access time, nanoseconds (>= 0).
    leakage_mw : float
        Static power of the bank, milliwatts (>= 0).
    area_mm2 : float
        Area, mm² (0 = unknown).
    source : str
        Where the numbers come from.
    """

    size_bytes: int
    word_bits: int
    read_energy_pj: float
    write_energy_pj: float
    access_latency_ns: float
    leakage_mw: float
    area_mm2: float = 0.0
    source: str = ""

    def __post_init__(self):
        for name in ("size_bytes", "word_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ChipSpecError(f"sram: {name} = {value!r} is not allowed; expected an "
                                    "integer >= 1")
        for name in ("read_energy_pj", "write_energy_pj", "access_latency_ns", "leakage_mw",
                     "area_mm2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                 np.floating)) \
                    or not math.isfinite(value) or value < 0:
                raise ChipSpecError(f"sram: {name} = {value!r} is not allowed; expected a "
                                    "finite number >= 0")

    @property
    def words(self) -> int:
        """Number of words in the bank."""
        return self.size_bytes * 8 // self.word_bits

    @property
    def access_latency_ps(self) -> int:
        """Access time in integer picoseconds (the simulator's time unit)."""
        return int(round(self.access_latency_ns * 1000.0))

    def dynamic_energy_pj(self, reads, writes=0) -> float:
        """Energy of ``reads`` word reads and ``writes`` word writes, picojoules."""
        return float(reads) * self.read_energy_pj + float(writes) * self.write_energy_pj

    def leakage_energy_j(self, duration_ps: int) -> float:
        """Static energy over ``duration_ps`` picoseconds, joules."""
        return self.leakage_mw * 1e-3 * duration_ps * 1e-12

    def fits(self, n_bytes: int) -> bool:
        """Whether ``n_bytes`` fit in the bank."""
        return int(n_bytes) <= self.size_bytes


def _interp_node(node_nm: float, column) -> np.ndarray:
    """A table column (per size) at ``node_nm``, linear between the bracketing nodes."""
    if node_nm in _CACTI:
        return column(_CACTI[node_nm])
    lo = max(n for n in NODES_NM if n < node_nm)
    hi = min(n for n in NODES_NM if n > node_nm)
    f = (node_nm - lo) / (hi - lo)
    return (1.0 - f) * column(_CACTI[lo]) + f * column(_CACTI[hi])


def _interp_size(size_kb: float, values: np.ndarray) -> float:
    return float(np.interp(math.log2(size_kb), np.log2(SIZES_KB), values))


def sram_from_cacti(size_kb: float, word_bits: int = 32, flavour: str = "lop",
                    node_nm: float = 22, write_factor: float = 1.0) -> SramSpec:
    """An SRAM bank with CACTI 7 costs (hardware-numbers §3.1), interpolated.

    Parameters
    ----------
    size_kb : float
        Capacity, kilobytes (1 KB = 1024 bytes), within 4 .. 1024.
    word_bits : int
        Access width, 32 .. 64 bits.
    flavour : str
        Device flavour of cells and periphery: ``"hp"``, ``"lop"`` or ``"lstp"``.
    node_nm : float
        Technology node, 22 .. 45 nm (28 nm lies between the 22 and 32 nm tables).
    write_factor : float
        Write energy as a multiple of the read energy (CACTI's table gives reads only) [U].

    Raises
    ------
    ChipSpecError
        A value outside the table's range or an unknown flavour; the message says what is allowed.
    """
    if flavour not in FLAVOURS:
        raise ChipSpecError(f"sram: flavour = {flavour!r} is not allowed; expected one of "
                            f"{FLAVOURS} (CACTI device types)")
    try:
        size_kb, node_nm, write_factor = float(size_kb), float(node_nm), float(write_factor)
    except (TypeError, ValueError):
        raise ChipSpecError(f"sram: size_kb = {size_kb!r}, node_nm = {node_nm!r} and "
                            f"write_factor = {write_factor!r} must be numbers") from None
    if not SIZES_KB[0] <= size_kb <= SIZES_KB[-1]:
        raise ChipSpecError(f"sram: size_kb = {size_kb!r} is not allowed; expected "
                            f"{SIZES_KB[0]} .. {SIZES_KB[-1]} KB (the CACTI table's range); "
                            "build larger memories from several banks")
    if isinstance(word_bits, bool) or not isinstance(word_bits, (int, np.integer)) \
            or not 32 <= word_bits <= 64:
        raise ChipSpecError(f"sram: word_bits = {word_bits!r} is not allowed; expected an "
                            "integer in 32 .. 64 (pack narrower fields into 32-bit words)")
    if not NODES_NM[0] <= node_nm <= NODES_NM[-1]:
        raise ChipSpecError(f"sram: node_nm = {node_nm!r} is not allowed; expected "
                            f"{NODES_NM[0]} .. {NODES_NM[-1]} nm (CACTI 7 tables at {NODES_NM})")
    if not math.isfinite(write_factor) or write_factor < 0:
        raise ChipSpecError(f"sram: write_factor = {write_factor!r} is not allowed; expected a "
                            "number >= 0")
    c32, c64 = _READ_COL[flavour]
    r32 = _interp_size(size_kb, _interp_node(node_nm, lambda t: t[:, c32]))
    r64 = _interp_size(size_kb, _interp_node(node_nm, lambda t: t[:, c64]))
    read = r32 + (r64 - r32) * (word_bits - 32) / 32.0
    leak = _interp_size(size_kb, _interp_node(node_nm, lambda t: t[:, _LEAK_COL[flavour]]))
    t_acc = _interp_size(size_kb, _interp_node(node_nm, lambda t: t[:, _TIME_COL[flavour]]))
    area = _interp_size(size_kb, _interp_node(node_nm, lambda t: t[:, _AREA_COL])) \
        if flavour == "lop" else 0.0
    return SramSpec(size_bytes=int(round(size_kb * 1024)), word_bits=int(word_bits),
                    read_energy_pj=read, write_energy_pj=read * write_factor,
                    access_latency_ns=t_acc, leakage_mw=leak, area_mm2=area,
                    source=f"CACTI 7.0, {flavour}, {node_nm:g} nm (hardware-numbers §3.1)")


#: Synapse storage formats (Loihi's three, hardware-numbers §3.2).
SYNAPSE_FORMATS = ("dense", "sparse", "conv")


def _entry_bits(weight_bits, index_bits, fmt) -> int:
    if fmt not in SYNAPSE_FORMATS:
        raise HardwareError(f"synapse format {fmt!r} is unknown; expected one of "
                            f"{SYNAPSE_FORMATS}")
    for name, value in (("weight_bits", weight_bits), ("index_bits", index_bits)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise HardwareError(f"{name} = {value!r} is not allowed; expected an integer >= 0")
    if weight_bits < 1:
        raise HardwareError(f"weight_bits = {weight_bits!r} is not allowed; expected >= 1")
    return int(weight_bits + (index_bits if fmt == "sparse" else 0))


def _packing(entry_bits: int, word_bits: int) -> tuple[int, int]:
    """``(entries per word, words per entry)``: entries never straddle two words."""
    if entry_bits <= word_bits:
        return word_bits // entry_bits, 1
    return 1, -(-entry_bits // word_bits)


def synapse_memory_bytes(n_synapses: int, weight_bits: int, index_bits: int = 0,
                         format: str = "sparse", word_bits: int = 32) -> int:
    """Bytes of SRAM that ``n_synapses`` entries occupy, packed into words.

    Parameters
    ----------
    n_synapses : int
        Entries stored: for ``"dense"`` the matrix entries (``n_pre * n_post``), for
        ``"sparse"`` the synapses (each a weight and a target index), for ``"conv"`` the distinct
        shared kernel weights (targets are computed, not stored).
    weight_bits, index_bits : int
        Field widths; ``index_bits`` counts only in the ``"sparse"`` format.
    format : str
        One of :data:`SYNAPSE_FORMATS`.
    word_bits : int
        SRAM word width; an entry never straddles two words.
    """
    if isinstance(n_synapses, bool) or not isinstance(n_synapses, (int, np.integer)) \
            or n_synapses < 0:
        raise HardwareError(f"n_synapses = {n_synapses!r} is not allowed; expected an integer "
                            ">= 0")
    if isinstance(word_bits, bool) or not isinstance(word_bits, (int, np.integer)) \
            or word_bits < 8 or word_bits % 8:
        raise HardwareError(f"word_bits = {word_bits!r} is not allowed; expected a multiple "
                            "of 8")
    per_word, words_each = _packing(_entry_bits(weight_bits, index_bits, format), word_bits)
    words = -(-int(n_synapses) // per_word) * words_each
    return words * word_bits // 8


def synapse_reads_per_op(weight_bits: int, index_bits: int = 0, format: str = "sparse",
                         word_bits: int = 32) -> float:
    """Word reads per synaptic operation when a whole row of entries is streamed.

    ``1 / entries_per_word`` for entries narrower than a word, else the words one entry spans.
    """
    if isinstance(word_bits, bool) or not isinstance(word_bits, (int, np.integer)) \
            or word_bits < 8 or word_bits % 8:
        raise HardwareError(f"word_bits = {word_bits!r} is not allowed; expected a multiple "
                            "of 8")
    per_word, words_each = _packing(_entry_bits(weight_bits, index_bits, format), word_bits)
    return words_each / per_word
