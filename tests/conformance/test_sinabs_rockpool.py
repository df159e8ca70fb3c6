"""Sinabs and Rockpool networks, exported with their own ``to_nir``, spike identically in aersim.

Both frameworks pin an older ``nir`` than snnTorch needs, so they run in an interpreter of their
own: ``oracles/nir104.py`` builds, steps and exports the networks there (IAF and LIF with
MultiSpike / SingleSpike / MembraneReset; a Conv2d-IAF-SumPool2d-Linear-IAF network; LIFTorch and
LIFNeuronTorch at two time steps) and the
test compares aersim's run of each file with the framework's spikes, layer by layer and step by
step. The interpreter is ``$AERSIM_ORACLE_PYTHON`` or ``.venv-oracle/bin/python`` (``.ci/run``
makes it); without it the tests skip.

A multi-spike is one spike event carrying its count (which scales its synapses), so a layer's
spikes are compared as "fired in this step"; the counts are checked through every later layer.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conformance_harness import population_of, run_aersim

REPO = Path(__file__).resolve().parents[2]
ORACLE = Path(__file__).parent / "oracles" / "nir104.py"


def _oracle_python() -> str | None:
    env = os.environ.get("AERSIM_ORACLE_PYTHON")
    if env:
        return env
    local = REPO / ".venv-oracle" / "bin" / "python"
    return str(local) if local.exists() else None


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    python = _oracle_python()
    if python is None:
        pytest.skip("no Sinabs/Rockpool interpreter: set AERSIM_ORACLE_PYTHON or make "
                    ".venv-oracle with sinabs, rockpool and nir==1.0.4 (see .ci/run)")
    probe = subprocess.run([python, "-c", "import sinabs, torch, nir"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{python} cannot import sinabs, torch and nir")
    out = tmp_path_factory.mktemp("nir104")
    done = subprocess.run([python, str(ORACLE), str(out), "60"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out, json.loads((out / "cases.json").read_text())


CASE_NAMES = [f"sinabs-{k}-{f}-{r}-{s}" for k in ("iaf", "lif")
              for f, r in (("multi", "subtract"), ("single", "subtract"), ("multi", "reset"))
              for s in range(3)]
CASE_NAMES += [f"rockpool-{k}-{dt:g}-{s}" for k in ("lif", "lifneuron") for dt in (1e-3, 5e-4)
               for s in range(3)]
CASE_NAMES += [f"sinabs-conv-{s}" for s in range(2)]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_spikes_identical_to_the_framework(cases, name):
    folder, listing = cases
    case = listing[name]
    data = np.load(folder / f"{name}.npz")
    x = data["x"]
    spikes = run_aersim(folder / f"{name}.nir", case["profile"], x)
    total = bad = 0
    for layer in case["layers"]:
        ref = data[f"layer_{layer}"] > 0
        got = spikes[_population(spikes, layer)]
        total += int(ref.sum())
        bad += int((ref.reshape(got.shape) != got).sum())
    assert total > 20, "the network hardly spikes; the comparison would prove little"
    assert bad == 0, f"{bad} of {total} spiking steps differ from {case['framework']}"


def _population(spikes: dict, layer: str) -> str:
    if layer in spikes:
        return layer
    return population_of(spikes, int(layer))


def test_rockpool_time_step_is_recovered_from_the_file(cases):
    folder, _ = cases
    from aersim.models import load_network
    from aersim.models.errors import ModelWarning

    with pytest.warns(ModelWarning, match="Rockpool"):
        net = load_network(folder / "rockpool-lif-0.0005-0.nir")
    assert net.metadata["profile"]["name"] == "rockpool"
    assert net.metadata["profile"]["dt_s"] == pytest.approx(5e-4)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
