"""How much memory a network or a run would take, checked before allocating it.

A network that does not fit fails in seconds with a message that says how much it needs and how
much the machine has, instead of after minutes of swapping or with a bare ``MemoryError``.
"""

from __future__ import annotations

import os

from aersim.models.errors import NetworkError

#: Peak bytes per synapse while a generator draws its projections straight into their CSR arrays
#: (int32 index and float32 weight kept, 8 bytes; the draws stream in blocks of a million
#: synapses): ``bench/memory.py`` measured 10.1 for Brunel at 100 M synapses (the whole process,
#: interpreter and libraries included); ``ff_network`` (normal weights) added 10.4 at 50 M. A
#: projection with one delay per synapse keeps 8 bytes more (int64): ``random_network`` added
#: 17.8 at 21 M synapses.
GENERATE_BYTES_PER_SYNAPSE = 12
#: Bytes a run's build adds per synapse: the engine's int32 target and float32 weight (8) when
#: it copies the network's arrays, nothing else of that size (``simcore.engine.synapse_tables``,
#: ``hardware.mapping``); the margin covers segments beyond one per message (heterogeneous
#: delays, 12 to 16 bytes each, and up to 16 more where a segment is a delivery run of its
#: own). A network whose arrays the engine reads in place (one arena with rows in engine order,
#: as the generators make them) adds none of the 8: the projection does not count on it, since
#: the rows' order is known only once the build has counted them.
BUILD_BYTES_PER_SYNAPSE = 10
#: Bytes a run's build adds per message (distinct destination core of a neuron): the message's
#: and its segment's entries in the synapse tables (20: int32 core and first segment; per
#: segment int32 first synapse, first input slot and delay index; 4 more for the segment's end
#: when read in place), the chip tables' int32 work and int32 storage count (8; 12 more on chips
#: that price dense or convolution synapses apart or send in column-major order), the
#: time-step engine's delivery runs (16 bytes a run, at most one per segment: one per neuron
#: where its segments follow each other with one delay, ``simcore.engine.synapse_tables``),
#: and passing arrays. ``bench/memory.py``
#: measured a build increment (mapping, all tables) of 11.0 bytes per synapse for Brunel at
#: 100 M synapses copied (0.098 messages per synapse: 31 per message besides the 8 per synapse)
#: and 3.8 in place (39 per message, segments split where E and I share a core included);
#: 25.6 at 10 M in place (0.63 messages per synapse: 41 per message), Numba cache warm.
BUILD_BYTES_PER_MESSAGE = 45
GIB = float(1 << 30)


def available_bytes() -> int | None:
    """Memory the machine can still give this process (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require_bytes(need: float, what: str, fix: str) -> None:
    """Raise ``NetworkError`` when ``need`` bytes exceed what the machine has available.

    Parameters
    ----------
    need : float
        Projected peak, bytes.
    what : str
        What would be built ("the Brunel network (10,000 neurons, 10.0 M synapses)").
    fix : str
        What to change.
    """
    have = available_bytes()
    if have is not None and need > have:
        raise NetworkError(f"{what} needs about {need / GIB:.1f} GiB at its peak but this machine "
                           f"has {have / GIB:.1f} GiB available; {fix}")


def build_bytes(n_synapses: int, n_messages: int) -> float:
    """Projected bytes the engine build adds for a network of ``n_synapses`` synapses whose
    neurons send ``n_messages`` (neuron, destination core) messages in all (the sum of the
    mapping's fan-out per core)."""
    return n_synapses * BUILD_BYTES_PER_SYNAPSE + n_messages * BUILD_BYTES_PER_MESSAGE
