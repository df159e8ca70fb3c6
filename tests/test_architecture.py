"""Import directions of DESIGN.md §1, checked on the source with ``ast``."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ALLOWED = {
    "models": set(),
    "traces": set(),
    "hardware": {"models"},
    "simcore": {"models", "hardware", "traces"},
}
#: Third-party packages each package may use (besides the standard library).
THIRD_PARTY = {
    "models": {"numpy", "numba", "scipy", "h5py", "nir"},
    "traces": {"numpy", "numba", "h5py", "matplotlib", "lz4", "zstandard"},
    "hardware": {"numpy", "numba", "scipy", "yaml"},
    "simcore": {"numpy", "numba", "scipy", "simpy", "h5py", "tqdm", "yaml", "dask",
                "distributed", "matplotlib", "pyarrow"},
}
STDLIB = set(__import__("sys").stdlib_module_names)


def imports_of(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_import_directions(package):
    problems = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, head in imports_of(path):
            rel = f"{path.relative_to(REPO)}:{line}"
            if head in ALLOWED and head != package and head not in ALLOWED[package]:
                problems.append(f"{rel}: {package} may not import {head}")
            elif head not in ALLOWED and head not in STDLIB and head not in THIRD_PARTY[package]:
                problems.append(f"{rel}: {package} imports third-party {head!r}, not allowed")
    assert not problems, "\n".join(problems)


def test_matplotlib_only_in_plots():
    for path in (REPO / "traces").rglob("*.py"):
        for _, head in imports_of(path):
            if head == "matplotlib":
                assert path.stem.startswith("plot"), f"{path.name} imports matplotlib"
