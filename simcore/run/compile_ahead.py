"""Compile the engine kernel in a second process while this one builds the network.

A first run (empty Numba cache) compiles the build kernels (mapping, synapse tables) one after
the other, then the engine kernel (``timestep.run_steps_kernel`` or
``asynchronous.run_async_kernel``), the largest, whose types are known only once the tables
exist. Numba compiles under one lock per process, but the engine kernel's argument *types* do
not depend on the synapses: the same populations, chip and run configuration without any
projection give the same tables, only smaller. :func:`start` forks a child that builds that
stand-in network's tables — with every Numba kernel of the build run as plain Python, cheap on
a network without synapses — and compiles the engine kernel for its arguments into Numba's
on-disk cache, while this process builds the real tables (compiling the build kernels) on the
other core. Before the first step, :meth:`AheadCompile.join` waits for the child and the
kernel is then loaded from the cache instead of compiled.

The child changes nothing this process sees but the cache (each cache file is written whole,
then renamed into place). A child that fails, compiles another signature (the types of the
real tables differ: the main process compiles as before) or is still building its tables when
the first step is due is reaped (killed if still running); the run's results never depend on
it. Only a fresh cache (no cache index of the engine kernel yet), one process (no MPI) and
a platform with ``fork`` (Linux) start a child.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import select
import signal
import sys
import time

from numba.core.registry import CPUDispatcher

log = logging.getLogger(__name__)

#: Longest wait (s) for the child's compilation once this process needs the kernel; then it
#: compiles the kernel itself. A compilation takes seconds; this only bounds a stuck child.
WAIT_S = 300.0


class _Compiled(Exception):
    """Raised in the child once the engine kernel is compiled, to stop its run there."""


def engine_kernel(mode: str):
    """``(module, name)`` of the engine kernel of execution ``mode``."""
    from aersim.simcore.engine import asynchronous, timestep
    return (timestep, "run_steps_kernel") if mode == "timestep" else \
        (asynchronous, "run_async_kernel")


def cached(kernel) -> bool:
    """Whether Numba's on-disk cache holds an index of ``kernel`` (some signature of it was
    compiled before). An unknown cache layout counts as cached: no child then."""
    try:
        return os.path.exists(kernel._cache._cache_file._index_path)
    except AttributeError:
        return True


def signature(kernel, args) -> str:
    """The Numba types of ``args`` as ``kernel`` would compile them, as text."""
    return repr(tuple(kernel.typeof_pyval(a) for a in args))


def _interpreted():
    """Make every Numba kernel of aersim's loaded modules its plain Python function (and the
    build's typed lists plain lists); return the function that undoes it."""
    from aersim.hardware.typed_lists import typed_list
    undo = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("aersim.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, CPUDispatcher):
                undo.append((module, attr, value))
                setattr(module, attr, value.py_func)
            elif value is typed_list:
                undo.append((module, attr, value))
                setattr(module, attr, list)

    def restore():
        for module, attr, value in undo:
            setattr(module, attr, value)
        undo.clear()
    return restore


def _child(out_fd, mode, network, chip, config, stimuli, strategy, probes) -> None:
    """In the forked child: build the stand-in's tables, compile the engine kernel for them."""
    from aersim.simcore.run.simulation import Simulation

    module, name = engine_kernel(mode)
    kernel = getattr(module, name)
    restore = _interpreted()

    def compile_only(*args):
        restore()
        os.write(out_fd, b"S" + signature(kernel, args).encode() + b"\n")
        kernel.compile(tuple(kernel.typeof_pyval(a) for a in args))
        raise _Compiled

    standin = dataclasses.replace(network, projections=[])
    sim = Simulation(standin, chip, config=config, stimuli=stimuli, strategy=strategy,
                     probes=probes)
    # The run's own path to the kernel call gives the kernel's exact arguments.
    setattr(module, name, compile_only)
    try:
        sim.run(duration_ps=sim.config.dt_ps)
    except _Compiled:
        os.write(out_fd, b"D\n")


class AheadCompile:
    """A child process compiling the engine kernel (see the module docstring)."""

    def __init__(self, pid: int, fd: int, mode: str):
        self.pid, self.fd, self.mode = pid, fd, mode
        self.started = time.perf_counter()

    @classmethod
    def start(cls, network, chip, config, stimuli=(), strategy=None, probes=None):
        """Fork the child when it can help (fresh cache, ``fork`` available); else None."""
        if sys.platform != "linux" or not hasattr(os, "fork"):
            return None
        mode = config.mode or chip.execution_mode
        module, name = engine_kernel(mode)
        if cached(getattr(module, name)):
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:     # no memory or process left for it: compile here
            os.close(read_fd)
            os.close(write_fd)
            return None
        if pid == 0:   # the child: never returns
            code = 1
            try:
                os.close(read_fd)
                for s in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(s, signal.SIG_DFL)
                # Silent: nothing of the child's reaches the terminal or a log file.
                logging.disable(logging.CRITICAL)
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                _child(write_fd, mode, network, chip, config, stimuli, strategy, probes)
                code = 0
            except BaseException:   # noqa: BLE001 - whatever failed, the parent compiles
                pass
            finally:
                os._exit(code)
        os.close(write_fd)
        log.debug("compiling the %s engine kernel in process %d", mode, pid)
        return cls(pid, read_fd, mode)

    def join(self, kernel, args) -> float:
        """Before the first call of ``kernel`` with ``args``: wait for the child if it compiles
        this very signature (then the call loads it from the cache), else stop it. Returns the
        seconds waited."""
        t0 = time.perf_counter()
        want = signature(kernel, args)
        buf = b""
        done = False
        deadline = t0 + WAIT_S
        while self.fd is not None and not done:
            # A child still building its tables would take longer than compiling here.
            if not buf.startswith(b"S"):
                ready = select.select([self.fd], [], [], 0)[0]
            else:
                ready = select.select([self.fd], [], [],
                                      max(0.0, deadline - time.perf_counter()))[0]
            if not ready:
                break
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            buf += chunk
            lines = buf.split(b"\n")
            if len(lines) > 1 and lines[0][1:].decode() != want:
                log.debug("the child compiles another signature; compiling here")
                break
            done = b"D" in lines[1:]
        self.stop()
        waited = time.perf_counter() - t0
        log.debug("engine kernel %s by the child after %.1f s (waited %.1f s)",
                  "compiled" if done else "not compiled", time.perf_counter() - self.started,
                  waited)
        return waited

    def stop(self) -> None:
        """Reap the child, killing it first if it still runs. Idempotent."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.pid is None:
            return
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.pid = None
