"""Ending a run cleanly on SIGTERM and SIGINT.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM (what ``kill``, batch schedulers
and container runtimes send) end the process at once, skipping every ``finally``: the trace is
never marked and its last buffered data is lost. Inside :func:`interrupt_on_signals` both
signals raise :class:`Interrupted` (a ``KeyboardInterrupt``) in the main thread, so cleanup code
runs the same way for either::

    with interrupt_on_signals():
        sim.run(duration_ps, trace=trace)     # closes the trace as incomplete, then re-raises

The engine's Numba kernels do not check for signals; the exception is raised when control
returns to Python, at the latest after one chunk of the run.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager

#: Exit status of a command ended by a signal: 128 + the signal number (the shell's convention).
SIGNAL_EXIT_BASE = 128


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread when SIGINT or SIGTERM arrives; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return SIGNAL_EXIT_BASE + self.signum


class SignalState:
    """What :func:`interrupt_on_signals` saw: ``signum`` of the first signal, or None.

    Libraries may turn the ``KeyboardInterrupt`` into an error of their own (Dask's "Nanny
    failed to start"); a caller that sees any exception with ``signum`` set knows the real cause.
    """

    def __init__(self):
        self.signum: int | None = None

    @property
    def exit_code(self) -> int:
        return SIGNAL_EXIT_BASE + (self.signum or 0)

    def _raise(self, signum, _frame):
        if self.signum is None:
            self.signum = signum
        raise Interrupted(signum)

    def _unraisable(self, info) -> None:
        """An exception raised inside a finaliser or a weakref callback is printed and dropped:
        if that was the interrupt, send the signal again, to be raised in ordinary code."""
        if isinstance(info.exc_value, Interrupted):
            # A moment later, from another thread: raised now it would land in this hook (or
            # the same finaliser) and be dropped again. Dropped again, it is sent again.
            timer = threading.Timer(0.02, os.kill, (os.getpid(), info.exc_value.signum))
            timer.daemon = True
            timer.start()
            return
        self._old_hook(info)


@contextmanager
def interrupt_on_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """Within the block, each of ``signals`` raises :class:`Interrupted`; the previous handlers
    are restored on exit. Yields a :class:`SignalState`. Outside the main thread (where
    handlers cannot be set) it changes nothing."""
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    state._old_hook = sys.unraisablehook
    sys.unraisablehook = state._unraisable
    old = {s: signal.signal(s, state._raise) for s in signals}
    try:
        yield state
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        sys.unraisablehook = state._old_hook
