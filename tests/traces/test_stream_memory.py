"""Streaming a recording with ``open_events`` takes memory bounded by the block size, never by
the file.

The default test measures the Python and NumPy allocations (``tracemalloc``) while a recording
of 4 million events is streamed with small blocks, and checks the same measurement on a
whole-file read of that file as a control: the control must exceed the bound many times over,
so the bound cannot hold by accident (for instance because the measurement missed the arrays).
The slow test streams files of 1 GiB (AEDAT4: 256 MiB, which its writer must hold in memory)
in a fresh process and checks the peak resident memory of the whole process against the 300 MB
the issue sets.
"""

import json
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from aersim.traces.recordings.recording import open_events, read_events, write_events
from aersim.traces.schema import EVENT_DTYPE

FORMATS = {"evt2": ".raw", "evt3": ".raw", "dat": ".dat", "aedat4": ".aedat4"}
SIZE = (640, 480)
#: Bytes decoded per block and events per output block in the default test.
BLOCK_BYTES = 256 << 10
OUT_EVENTS = 1 << 16
#: What streaming may allocate at its peak with those blocks (a read buffer, one output block,
#: AEDAT4's packets in flight), far below the 52 MB of the decoded file.
STREAM_BOUND = 4 << 20


def _traced_peak(run):
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _stream(path):
    n = 0
    for chunk in open_events(path, block_bytes=BLOCK_BYTES, out_events=OUT_EVENTS):
        n += len(chunk)
    return n


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_streaming_memory_is_bounded_by_the_block_not_the_file(tmp_path, synth, fmt):
    events = synth(4_000_000, *SIZE, regressions=False)
    path = tmp_path / f"big{FORMATS[fmt]}"
    write_events(path, events, SIZE, format=fmt)
    next(iter(open_events(path)))  # imports and compiles the reader outside the measurement
    counted = []
    stream_peak = _traced_peak(lambda: counted.append(_stream(path)))
    whole_peak = _traced_peak(lambda: read_events(path))
    assert counted == [len(events)]
    assert whole_peak > 10 * STREAM_BOUND, "control: the whole-file read must be seen"
    assert stream_peak < STREAM_BOUND, f"{fmt}: streaming peaked at {stream_peak / 2**20:.1f} MiB"


_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from aersim.traces.recordings.recording import open_events

    path, warm = sys.argv[1:3]
    for _ in open_events(warm):
        pass
    n = 0
    for chunk in open_events(path):
        n += len(chunk)
    status = Path("/proc/self/status").read_text().splitlines()
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"events": n, "peak_mb": peak_kib / 1024}))
    """
)


def _repeated_body(tmp_path, synth, fmt, target_bytes):
    """A file of about ``target_bytes``: an empty recording's header, then the body of a
    recording of a million events repeated (times restart at each repetition)."""
    empty, base = tmp_path / f"empty{FORMATS[fmt]}", tmp_path / f"base{FORMATS[fmt]}"
    write_events(empty, np.zeros(0, dtype=EVENT_DTYPE), SIZE, format=fmt)
    events = synth(1_000_000, *SIZE, t0=0, regressions=False)
    write_events(base, events, SIZE, format=fmt)
    header, data = empty.read_bytes(), base.read_bytes()
    assert data.startswith(header)
    body = data[len(header) :]
    copies = max(1, target_bytes // len(body))
    path = tmp_path / f"big{FORMATS[fmt]}"
    with open(path, "wb") as f:
        f.write(header)
        for _ in range(copies):
            f.write(body)
    return path, base, copies * len(events)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_streaming_a_large_recording_stays_under_300_mb(tmp_path, synth, fmt):
    if fmt == "aedat4":
        events = synth(20_000_000, *SIZE, regressions=False)
        path, warm = tmp_path / "big.aedat4", tmp_path / "warm.aedat4"
        write_events(path, events, SIZE, format=fmt)
        write_events(warm, events[:10_000], SIZE, format=fmt)
        expected = len(events)
        del events
    else:
        path, warm, expected = _repeated_body(tmp_path, synth, fmt, 1 << 30)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(warm)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["events"] == expected
    assert row["peak_mb"] < 300, f"{fmt}: {path.stat().st_size >> 20} MiB streamed in {row}"
