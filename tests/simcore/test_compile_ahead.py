"""The engine kernel compiled in a second process on a fresh cache (simcore.run.compile_ahead)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from numba import njit

from aersim.simcore.run.compile_ahead import AheadCompile, signature

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="compile-ahead forks (Linux)")


@njit(cache=False)
def _kernel(a, k):
    return a[k]


ARGS = (np.zeros(3), 1)


def _fake_child(*messages, pause_s=0.0, linger_s=0.0, code=0):
    """Fork a child that writes ``messages`` (bytes) ``pause_s`` apart (the first at once),
    then lingers and exits with ``code``: the parent's side of the protocol, without a
    compilation."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            for i, m in enumerate(messages):
                time.sleep(pause_s if i else 0.0)
                os.write(write_fd, m)
            time.sleep(linger_s)
        finally:
            os._exit(code)
    os.close(write_fd)
    return AheadCompile(pid, read_fd, "timestep")


def _gone(pid) -> bool:
    """The child was reaped (no zombie left): it is no longer this process's child."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_join_waits_for_a_child_compiling_this_signature():
    want = signature(_kernel, ARGS).encode()
    ahead = _fake_child(b"S" + want + b"\n", b"D\n", pause_s=0.3)
    pid = ahead.pid
    time.sleep(0.1)     # the child has written its signature, not yet that it is done
    waited = ahead.join(_kernel, ARGS)
    assert 0.1 < waited < 10
    assert _gone(pid)


def test_join_stops_a_child_compiling_another_signature():
    ahead = _fake_child(b"S(float32,)\n", linger_s=60)
    pid = ahead.pid
    time.sleep(0.2)     # the child has written its signature
    t0 = time.perf_counter()
    ahead.join(_kernel, ARGS)
    assert time.perf_counter() - t0 < 5
    assert _gone(pid)


def test_join_does_not_wait_for_a_child_still_building():
    ahead = _fake_child(linger_s=60)
    pid = ahead.pid
    t0 = time.perf_counter()
    ahead.join(_kernel, ARGS)
    assert time.perf_counter() - t0 < 5
    assert _gone(pid)


def test_a_failed_child_is_reaped_and_stop_is_idempotent():
    want = signature(_kernel, ARGS).encode()
    ahead = _fake_child(b"S" + want + b"\n", code=1)
    pid = ahead.pid
    ahead.join(_kernel, ARGS)     # the child died without "D": nothing to wait for
    assert _gone(pid)
    ahead.stop()


# One run on an empty Numba cache: with compile-ahead, the main process must load the engine
# kernel (compiled by the child) instead of compiling it, and the spikes must be those of a run
# that compiles it in-process (another process, with its own empty cache).
_RUN = """
import hashlib, json, sys
from numba.core import event
from aersim.simcore.run.spec import RunSpec, execute
compiled = []
class Count(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__name__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Count())
res = execute(RunSpec(network="random", chip="minimal", duration_s=0.02),
              compile_ahead=sys.argv[1] == "ahead").results
h = hashlib.sha256(res.spikes_t_ps.tobytes() + res.spikes_neuron.tobytes()
                   + res.step_duration_ps.tobytes()).hexdigest()
print(json.dumps({"spikes": h, "n": int(res.n_spikes),
                  "engine_compiled": "run_steps_kernel" in compiled}))
"""


def test_the_engine_kernel_compiled_ahead_is_loaded_and_gives_the_same_run(tmp_path):
    procs = {}
    for how in ("ahead", "here"):
        cache = tmp_path / f"cache-{how}"
        cache.mkdir()
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
        procs[how] = subprocess.Popen([sys.executable, "-c", _RUN, how], cwd=tmp_path,
                                      env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
    out = {}
    for how, p in procs.items():
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        out[how] = json.loads(stdout.strip().splitlines()[-1])
    assert out["here"]["engine_compiled"] and not out["ahead"]["engine_compiled"]
    assert out["ahead"]["n"] > 0
    assert out["ahead"]["spikes"] == out["here"]["spikes"]
