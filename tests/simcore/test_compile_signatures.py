"""A typical run compiles each engine kernel once, with only the neuron models it uses.

Every extra specialisation of the engine kernel costs seconds of a first run's compilation
(docs/performance.md, compile time): a literal argument, a changed argument type or a model
branch that is compiled without being used shows here as a second signature or a wrong flag.
"""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np

from aersim.models.neurons.registry import FIRST_TABLE_CODE
from aersim.simcore.engine.build import KIND_ALIF, KIND_INPUT, KIND_LIF, KIND_LOIHI
from aersim.simcore.engine.timestep import model_flags

# Runs the demo (the README's first command) and Brunel in one fresh process and prints how
# many signatures the main kernels hold and the types of the neuron-model flags.
_SCRIPT = """
import collections, json, sys
from numba.core import event
from aersim.simcore.cli.main import main
from aersim.simcore.engine import timestep

# Count the compilations of the kernels' callees (a kernel loaded from the cache compiles none).
compiled = collections.Counter()
class Count(event.Listener):
    def on_start(self, ev):
        compiled[ev.data["dispatcher"].py_func.__name__] += 1
    def on_end(self, ev):
        pass
event.register("numba:compile", Count())
for args in (["run", "--duration", "0.02"], ["run", "brunel", "--duration", "0.002"]):
    try:
        main(args + ["--out", "", "--no-plots"])
    except SystemExit as e:
        assert not e.code, e.code
from aersim.simcore.engine import synapse_tables
# Top-level kernels hold one signature per specialisation, compiled or loaded from the cache;
# the kernels they call are compiled only when the kernel is (not after a load).
kernels = {"run_steps_kernel": timestep.run_steps_kernel,
           "_count_kernel": synapse_tables._count_kernel,
           "_fill_kernel": synapse_tables._fill_kernel}
print(json.dumps({
    "signatures": {name: len(k.signatures) for name, k in kernels.items()},
    "callees": max(compiled[name] for name in ("update_range", "step_timeline")),
    "flags": str(timestep.run_steps_kernel.signatures[0][-1]),
}))
"""


def test_demo_and_brunel_compile_one_engine_signature_without_unused_models(tmp_path):
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # Both networks are LIF neurons and inputs on serial-receive chips: one signature each.
    assert found["signatures"] == {"run_steps_kernel": 1, "_count_kernel": 1,
                                   "_fill_kernel": 1}
    assert found["callees"] <= 1
    # The models argument: no model with a branch of its own is compiled.
    assert found["flags"] == "UniTuple(none x 5)"


def test_model_flags_name_the_models_present():
    def flags(*kinds):
        return model_flags(SimpleNamespace(kind=np.array(kinds, dtype=np.int8)))
    assert flags(KIND_INPUT, KIND_LIF) == (None,) * 5
    assert flags(KIND_LIF, KIND_ALIF) == (True, None, None, None, None)
    assert flags(KIND_LOIHI, FIRST_TABLE_CODE + 1) == (None, None, None, True, True)
