"""Say so while Numba compiles the engine, which only the first run of a fresh install does.

Numba compiles each kernel on its first call and keeps the machine code in its on-disk cache, so
a first run waits several seconds before it simulates and later runs start at once. Numba
announces every real compilation (a cache load is not one) with a ``numba:compile`` event; the
listener here turns the first one into a line on stderr (through the progress bar's ``write``
when there is one, so that the bar is not broken) and reports how long compiling took. When a
second process compiles the engine kernel meanwhile (``simcore.run.compile_ahead``), the line
says so (:func:`background`) and the time this process waits for it counts as compiling
(:func:`waited`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from numba.core import event

log = logging.getLogger(__name__)

MESSAGE = "compiling the engine (first run only: later runs load it from Numba's cache)..."
#: Said when a second process starts compiling the engine kernel.
BACKGROUND = "compiling the engine's main kernel in a second process meanwhile..."


class _Notice(event.Listener):
    """Counts the seconds spent in top-level compilations and announces the first one."""

    def __init__(self, write):
        self.write = write
        self.depth = 0
        self.started = None
        self.seconds = 0.0
        self.said = set()

    def say(self, message: str) -> None:
        """Write ``message`` unless it was said already."""
        if message in self.said:
            return
        self.said.add(message)
        log.info(message)
        if self.write is not None:
            self.write(f"aersim: {message}")

    def on_start(self, ev) -> None:
        if self.depth == 0:
            self.started = time.perf_counter()
            self.say(MESSAGE)
        self.depth += 1

    def on_end(self, ev) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.perf_counter() - self.started


#: The notice in force (at most one): an inner block leaves the reporting to the outer one.
_active = []


def background() -> None:
    """Say (once) that a second process compiles the engine kernel, if a notice is in force."""
    if _active:
        _active[0].say(BACKGROUND)


def waited(seconds: float) -> None:
    """Count ``seconds`` spent waiting for the second process's compilation as compiling."""
    if _active and seconds > 0.0:
        _active[0].seconds += seconds


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def compile_notice(show: bool, bar=None):
    """Within this block, a compilation of any Numba kernel is announced once on stderr (when
    ``show``; through ``bar.write`` if a tqdm ``bar`` is given) and logged at INFO level; the
    time it took is reported when the block ends. Inside another such block it does nothing:
    the outer one reports (``execute`` covers building and running with one notice)."""
    if _active:
        yield
        return
    write = (bar.write if bar is not None else _stderr) if show else None
    notice = _Notice(write)
    _active.append(notice)
    try:
        with event.install_listener("numba:compile", notice):
            yield
    finally:
        _active.pop()
    if notice.seconds > 0.0:
        done = f"compiled in {notice.seconds:.1f} s"
        log.info(done)
        if write is not None:
            write(f"aersim: {done}")
