"""A lock file beside an output file, so that two runs never write the same file; and signals
held back while a file is being made consistent.

``<path>.lock`` is created with ``O_CREAT | O_EXCL`` (atomic on local file systems) and holds
the writer's host name and process id. A lock left behind by a killed process of this host is
stale (its process no longer exists) and is taken over; a live one is an error that names the
process and the lock file.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
from contextlib import contextmanager
from pathlib import Path


class LockError(OSError):
    """The output is locked by another live process, or the lock file cannot be created."""


def lock_path(path) -> Path:
    """The lock file of output ``path``: ``<path>.lock``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """Hold ``<path>.lock`` while ``path`` is written; :meth:`release` (or ``with``) frees it.

    With ``reserve_bytes``, the lock file also holds that much disk space, given back by
    :meth:`release_reserve` when a write fails for lack of space.

    Raises
    ------
    LockError
        Another live process holds the lock (the message names it and the lock file).
    OSError
        The lock file cannot be created (read-only folder, missing folder, full disk).
    """

    def __init__(self, path, reserve_bytes: int = 0):
        self.path = lock_path(path)
        self.held = False
        me = f"{socket.gethostname()} {os.getpid()}\n".encode()
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._take_over_stale():
                    continue
                raise
            try:
                os.write(fd, me)
                if reserve_bytes:
                    # Space held in reserve: released when the disk fills, so that the output
                    # can still be closed consistently (see release_reserve).
                    os.posix_fallocate(fd, len(me), int(reserve_bytes))
            except OSError:
                os.close(fd)
                os.unlink(self.path)
                raise
            os.close(fd)
            self.held = True
            return
        raise LockError(errno.EEXIST, f"cannot take the lock {self.path}")

    def _take_over_stale(self) -> bool:
        """Remove a lock whose process on this host is gone; raise if its owner is alive."""
        try:
            with open(self.path, "rb") as fh:
                host, pid = fh.read(256).split(b"\n", 1)[0].decode("utf-8").split()
            pid = int(pid)
        except (OSError, ValueError):
            # Unreadable or half-written: its writer died between create and write.
            host, pid = socket.gethostname(), -1
        if host == socket.gethostname() and (pid <= 0 or not _alive(pid)):
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            return True
        raise LockError(errno.EEXIST, f"is being written by process {pid} on {host} (lock file "
                        f"{self.path}); wait for that run, or choose another output. If no run "
                        "is writing it, delete the lock file")

    def release_reserve(self) -> None:
        """Give back the reserved space (the lock itself is kept)."""
        if self.held:
            try:
                os.truncate(self.path, 64)
            except OSError:
                pass

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


@contextmanager
def signals_deferred(signals=(signal.SIGINT, signal.SIGTERM)):
    """Hold back ``signals`` during a block that must not be torn (a flush, a close).

    Python runs signal handlers in the main thread, between bytecodes, whichever thread the
    operating system delivered the signal to; so the handlers themselves are swapped for one that
    only notes the signal, and each noted signal is raised again, to the handlers restored, when
    the block ends. Outside the main thread (where handlers cannot be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted = []
    old = {s: signal.signal(s, lambda signum, _frame: noted.append(signum)) for s in signals}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(noted):
            signal.raise_signal(s)
