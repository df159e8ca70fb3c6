"""aersim installs as one import root, ``aersim``, and never shadows (or is shadowed by) a user's
own top-level ``models``, ``hardware``, ``traces`` or ``simcore`` packages.

Two installs are checked: a regular (non-editable) ``pip install --target`` of a clean copy of the
source tree, and the editable install of the environment running these tests.
"""

import configparser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "hardware", "traces", "simcore")
ENTRY_POINT = "aersim.simcore.cli.main:main"

# pip output that means the build could not fetch its build dependencies (setuptools, wheel):
# no network or no package index. Anything else is a real packaging failure and fails the test.
_NO_INDEX = re.compile(
    r"No matching distribution found for (setuptools|wheel)"
    r"|Could not find a version that satisfies the requirement (setuptools|wheel)"
    r"|NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution"
    r"|Network is unreachable|ProxyError|ConnectTimeoutError|ReadTimeoutError",
    re.I)

# The README's Python example (small sizes), run next to the user's own packages of the same
# names. The user's packages are imported first, as a user's script would, and checked again after
# aersim has run, so both directions of shadowing show up.
USER_SCRIPT = '''\
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ("models", "hardware", "traces", "simcore")

import hardware
import models
import models.conv
import simcore
import traces


def check_user_packages():
    for name in NAMES:
        mod = sys.modules[name]
        assert mod.MARKER == f"user-{name}", (name, getattr(mod, "__file__", None))
        assert Path(mod.__file__).resolve().parent == HERE / name, (name, mod.__file__)
    assert models.conv.USER_CONV is True


check_user_packages()

from aersim.models import ff_network
from aersim.simcore import PoissonInput, RunConfig, Simulation

net = ff_network(n_input=5, layer_size=10)
sim = Simulation(net, "loihi_like", config=RunConfig(mode="timestep", seed=1),
                 stimuli=[PoissonInput("input", 20.0)])
res = sim.run(0.002)
print(res.summary())
res.rates_hz()

check_user_packages()
import aersim

aersim_modules = {name: getattr(mod, "__file__", None) for name, mod in sys.modules.items()
                  if name == "aersim" or name.startswith("aersim.")}
print("RESULT " + json.dumps({"aersim": aersim.__file__, "aersim_modules": aersim_modules}))
'''


def _ignore_for_copy(folder, names):
    """Leave out what a fresh checkout does not have: venvs, build output, caches, git."""
    skip = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", "aersim-out"}
    return {n for n in names if n in skip or n.endswith(".egg-info")}


def _write_user_folder(folder: Path) -> Path:
    for name in PACKAGES:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f'MARKER = "user-{name}"\n', encoding="utf-8")
    (folder / "models" / "conv.py").write_text("USER_CONV = True\n", encoding="utf-8")
    (folder / "hardware" / "presets").mkdir()  # a user folder with its own, unrelated presets
    (folder / "hardware" / "presets" / "mine.yaml").write_text("name: mine\n", encoding="utf-8")
    script = folder / "run_readme.py"
    script.write_text(USER_SCRIPT, encoding="utf-8")
    return script


def _run_user_script(script: Path, pythonpath: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    proc = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "spikes:" in proc.stdout, proc.stdout
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def _assert_aersim_from(result: dict, root: Path):
    """Every aersim module the run imported comes from ``root/...`` (the aersim package)."""
    root = root.resolve()
    assert Path(result["aersim"]).resolve() == root / "__init__.py", result["aersim"]
    for name, file in result["aersim_modules"].items():
        if file is not None:
            assert Path(file).resolve().is_relative_to(root), (name, file)


@pytest.fixture(scope="module")
def regular_install(tmp_path_factory) -> Path:
    """``pip install --no-deps --target`` of a clean copy of the source tree; the target dir."""
    tmp = tmp_path_factory.mktemp("regular-install")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=_ignore_for_copy)
    site = tmp / "site"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
           "--retries", "1", "--timeout", "15", "--target", str(site), str(src)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.skip("regular install: pip timed out fetching the build dependencies")
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        if "No module named pip" in output:
            pytest.skip("regular install: pip is not available in this interpreter")
        if _NO_INDEX.search(output):
            pytest.skip("regular install: cannot fetch the build dependencies "
                        "(setuptools, wheel) from the package index (no network?)")
        pytest.fail(f"pip install --target failed:\n{output}")
    return site


@pytest.fixture(scope="module")
def user_script(tmp_path_factory) -> Path:
    return _write_user_folder(tmp_path_factory.mktemp("user-folder"))


def _dist_info(site: Path) -> Path:
    infos = list(site.glob("aersim-*.dist-info"))
    assert len(infos) == 1, infos
    return infos[0]


def _expected_package_files() -> set[str]:
    """What ``aersim/`` must hold: the root __init__.py, the four packages' modules, presets."""
    files = {"__init__.py"}
    for name in PACKAGES:
        files |= {p.relative_to(REPO).as_posix() for p in (REPO / name).rglob("*.py")
                  if "__pycache__" not in p.parts}
    files |= {p.relative_to(REPO).as_posix()
              for p in (REPO / "hardware" / "presets").glob("*.yaml")}
    return files


def test_regular_install_holds_only_the_aersim_package(regular_install):
    site = regular_install
    dist_info = _dist_info(site)
    assert re.fullmatch(r"aersim-[^-]+\.dist-info", dist_info.name), dist_info.name
    top = {p.name for p in site.iterdir()}
    assert top - {"bin"} == {"aersim", dist_info.name}, sorted(top)
    assert not top & set(PACKAGES), f"top-level packages besides aersim: {sorted(top)}"
    top_level = (dist_info / "top_level.txt").read_text(encoding="utf-8").split()
    assert top_level == ["aersim"]

    pkg = site / "aersim"
    installed = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert installed == _expected_package_files(), (
        f"missing: {sorted(_expected_package_files() - installed)}; "
        f"unexpected: {sorted(installed - _expected_package_files())}")
    assert {p.name for p in pkg.iterdir() if p.is_dir()} - {"__pycache__"} == set(PACKAGES)
    for name in ("tests", "bench", "docs", "examples"):
        assert not (pkg / name).exists(), f"aersim/{name} was installed"


def test_regular_install_declares_the_console_script(regular_install):
    parser = configparser.ConfigParser()
    parser.read(_dist_info(regular_install) / "entry_points.txt", encoding="utf-8")
    assert dict(parser["console_scripts"]) == {"aersim": ENTRY_POINT}
    script = regular_install / "bin" / "aersim"
    if script.exists():  # pip writes console scripts under --target/bin on POSIX
        assert "from aersim.simcore.cli.main import main" in script.read_text(encoding="utf-8")


def test_environment_install_declares_the_console_script():
    eps = [ep for ep in metadata.distribution("aersim").entry_points
           if ep.group == "console_scripts"]
    assert [(ep.name, ep.value) for ep in eps] == [("aersim", ENTRY_POINT)]
    assert callable(eps[0].load())


def test_readme_example_next_to_user_packages_regular_install(regular_install, user_script):
    result = _run_user_script(user_script, pythonpath=regular_install)
    _assert_aersim_from(result, regular_install / "aersim")


def test_readme_example_next_to_user_packages_environment_install(user_script):
    """The same against the install of the running environment (the editable one in a checkout)."""
    here = Path(importlib.util.find_spec("aersim").origin).parent
    result = _run_user_script(user_script, pythonpath=None)
    _assert_aersim_from(result, here)


def test_user_script_is_the_readme_example():
    """The script above runs the README's Python example, only with smaller sizes."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"From Python[^\n]*\n+```python\n(.*?)```", readme, re.S)
    assert block, "README.md has no 'From Python' example"
    imports = [ln for ln in block.group(1).splitlines() if ln.startswith("from aersim")]
    assert imports and all(ln in USER_SCRIPT for ln in imports), imports
    for call in ("ff_network(", "Simulation(net, \"loihi_like\"", "PoissonInput(",
                 "RunConfig(mode=\"timestep\"", ".run(", "res.summary()"):
        assert call in block.group(1) and call in USER_SCRIPT, call

