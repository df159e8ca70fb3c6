"""The engine never runs a stale cached kernel: Numba's cache misses edits to inlined modules,
and the guard of ``simcore.engine.kernel_cache`` clears it when a source changes."""

import ast
import subprocess
import sys
import textwrap

from aersim.simcore.engine import kernel_cache
from aersim.simcore.engine.kernel_cache import (
    KERNEL_DIRS,
    KERNEL_MODULES,
    ROOT,
    STAMP,
    cache_dir,
    check_kernel_cache,
)

KERNEL = textwrap.dedent("""
    from numba import njit
    from helper import value

    @njit(cache=True)
    def kernel():
        return value()
""")
HELPER = textwrap.dedent("""
    from numba import njit

    @njit(cache=True, inline="always")
    def value():
        return {}
""")
RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    from aersim.simcore.engine.kernel_cache import cache_dir, check_kernel_cache
    here = Path(sys.argv[1])
    sys.path.insert(0, str(here))
    if sys.argv[2] == "guard":
        check_kernel_cache([here / "helper.py", here / "kern.py"], [cache_dir(here / "kern.py")])
    from kern import kernel
    print(kernel())
""")


def run_kernel(tmp_path, guard: bool) -> str:
    out = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path),
                          "guard" if guard else "plain"], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    return out.stdout.strip()


def test_guard_recompiles_a_kernel_whose_inlined_helper_changed(tmp_path):
    (tmp_path / "kern.py").write_text(KERNEL)
    (tmp_path / "helper.py").write_text(HELPER.format("1.0"))
    (tmp_path / "run.py").write_text(RUN)
    assert run_kernel(tmp_path, guard=True) == "1.0"
    assert list((tmp_path / "__pycache__").glob("kern.kernel-*.nbi"))
    assert (tmp_path / "__pycache__" / STAMP).exists()
    (tmp_path / "helper.py").write_text(HELPER.format("2.0"))
    # Numba alone keys the kernel on kern.py and loads the stale machine code ...
    assert run_kernel(tmp_path, guard=False) == "1.0"
    # ... the guard sees the changed source, clears the cache, and the kernel is recompiled.
    assert run_kernel(tmp_path, guard=True) == "2.0"
    assert run_kernel(tmp_path, guard=False) == "2.0"


def test_guard_clears_only_on_a_change(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("x = 1\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    assert check_kernel_cache([src], [cache]) is True        # no stamp yet
    (cache / "m.f-1.py311.nbi").write_text("")
    (cache / "m.f-1.py311.1.nbc").write_text("")
    assert check_kernel_cache([src], [cache]) is False
    assert len(list(cache.iterdir())) == 3                   # stamp and both cache files
    src.write_text("x = 2\n")
    assert check_kernel_cache([src], [cache]) is True
    assert [p.name for p in cache.iterdir()] == [STAMP]


def test_the_engine_guard_covers_every_compiled_module_the_kernels_import():
    guarded = {p.resolve() for d in KERNEL_DIRS for p in (ROOT / d).glob("*.py")}
    guarded |= {(ROOT / m).resolve() for m in KERNEL_MODULES}
    missing = set()
    for path in guarded:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("aersim."):
                target = ROOT.joinpath(*node.module.split(".")[1:]).with_suffix(".py")
                if target.exists() and "njit" in target.read_text() \
                        and target.resolve() not in guarded:
                    missing.add(node.module)
    assert not missing
    assert cache_dir(ROOT / "simcore" / "engine" / "timestep.py") is not None
    assert kernel_cache.check_engine_cache() is False         # checked at import already
