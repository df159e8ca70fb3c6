"""How much memory a network or a run would take, checked before allocating it.

A network that does not fit fails in seconds with a message that says how much it needs and how
much the machine has, instead of after minutes of swapping or with a bare ``MemoryError``.
"""

from __future__ import annotations

import os

from aersim.models.errors import NetworkError

#: Peak bytes per synapse while a generator draws a projection and the network stores it as CSR
#: (int32 indices and float32 weights kept, plus the draw's and the sort's temporaries):
#: ``bench/memory.py`` measured 25 for Brunel at 100 M synapses; denser projections (170 M
#: synapses on 100 k neurons) have peaked at 44.
GENERATE_BYTES_PER_SYNAPSE = 40
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
