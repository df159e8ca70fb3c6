"""Import directions of the design (models and traces stand alone, hardware uses models, simcore
uses all three), checked on the source with ``ast``; and the layout that the package installs."""

import ast
import configparser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("hardware", "models", "simcore", "traces")
ALLOWED = {
    "models": set(),
    "traces": set(),
    "hardware": {"models"},
    "simcore": {"models", "hardware", "traces"},
}
#: Third-party packages each package may use (besides the standard library). ``llvmlite`` is
#: Numba's code generator, installed with it (the engine's prefetch hint emits one instruction).
THIRD_PARTY = {
    "models": {"numpy", "numba", "scipy", "h5py", "nir"},
    "traces": {"numpy", "numba", "h5py", "matplotlib", "lz4", "zstandard"},
    "hardware": {"numpy", "numba", "scipy", "yaml"},
    "simcore": {"numpy", "numba", "scipy", "simpy", "h5py", "tqdm", "yaml", "dask",
                "distributed", "matplotlib", "pyarrow", "pandas", "mpi4py", "llvmlite"},
}
STDLIB = set(__import__("sys").stdlib_module_names)


def imports_of(path: Path):
    """``(line, dotted module)`` for every import of a file; relative imports are refused."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use an absolute aersim.* import"
            yield node.lineno, node.module


def package_of(module: str) -> str:
    """``aersim.models.neurons.lif`` -> ``models``; ``numpy.linalg`` -> ``numpy``."""
    parts = module.split(".")
    if parts[0] == "aersim" and len(parts) > 1:
        return parts[1]
    return parts[0]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_import_directions(package):
    problems = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, module in imports_of(path):
            rel = f"{path.relative_to(REPO)}:{line}"
            head = package_of(module)
            if module.split(".")[0] in PACKAGES:
                problems.append(f"{rel}: imports top-level {module!r}; write aersim.{module}")
            elif module == "aersim":
                problems.append(f"{rel}: imports the aersim root, which imports every package")
            elif head in ALLOWED:
                if head != package and head not in ALLOWED[package]:
                    problems.append(f"{rel}: {package} may not import {head}")
            elif head not in STDLIB and head not in THIRD_PARTY[package]:
                problems.append(f"{rel}: {package} imports third-party {head!r}, not allowed")
    assert not problems, "\n".join(problems)


def test_matplotlib_only_in_plots():
    for path in (REPO / "traces").rglob("*.py"):
        for _, module in imports_of(path):
            if module.split(".")[0] == "matplotlib":
                assert path.stem.startswith("plot"), f"{path.name} imports matplotlib"


def test_every_package_folder_is_installed():
    """setup.cfg lists each folder with an ``__init__.py`` under the one root ``aersim``."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {"aersim"}
    for package in PACKAGES:
        for init in (REPO / package).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO).as_posix().replace("/", ".")
            found.add(f"aersim.{rel}")
    assert listed == found
    assert all(name == "aersim" or name.startswith("aersim.") for name in listed)
