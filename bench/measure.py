"""Measurements shared by the benchmark scripts."""

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MiB.

    ``VmHWM`` is reset by ``exec``; ``ru_maxrss`` (the fallback) is carried over from a forked
    parent on Linux and would then report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
