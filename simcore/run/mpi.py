"""Starting MPI: finding the launcher, launching ``aersim`` as N ranks, and knowing, from
inside, whether this process is one of several ranks (``simcore.run.parallel`` runs them).

Nothing here imports ``mpi4py`` until a parallel run is asked for: a one-process run never
starts MPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from aersim.simcore.errors import ConfigError

#: What to install when mpi4py or the MPI runtime is missing.
MPI_FIX = "pip install -e '.[mpi]' (mpi4py and the MPICH runtime)"
#: Environment variables through which MPI launchers (MPICH and Intel MPI, Open MPI) announce
#: the number of ranks and this process's rank.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")


def load_mpi():
    """The ``mpi4py.MPI`` module, or a :class:`ConfigError` naming the install."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise ConfigError(f"a parallel run needs mpi4py and an MPI runtime; install them with "
                          f"{MPI_FIX}") from None
    return MPI


def launched_world():
    """``MPI.COMM_WORLD`` when this process is one of several ranks started by an MPI
    launcher, else None (a plain one-process run never imports MPI)."""
    size = max((int(os.environ.get(v, "1") or 1) for v in _SIZE_VARS), default=1)
    if size <= 1:
        return None
    comm = load_mpi().COMM_WORLD
    return comm if comm.Get_size() > 1 else None


def launcher_rank() -> int:
    """This process's rank as its MPI launcher announced it (0 outside a launcher), read from
    the environment without starting MPI: for choosing the one rank that prints."""
    for var in _RANK_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def strip_ranks(argv: list[str], options=("--ranks",)) -> list[str]:
    """``argv`` without its ``--ranks N`` (or ``--ranks=N``) option, or those of ``options``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in options)):
            out.append(arg)
    return out


def find_mpiexec() -> str:
    """The ``mpiexec`` beside this Python (a virtual environment's, from the ``mpich`` wheel),
    else the one on ``PATH``."""
    here = Path(sys.executable).parent
    for name in ("mpiexec", "mpirun"):
        path = shutil.which(name, path=str(here)) or shutil.which(name)
        if path:
            return path
    raise ConfigError(f"--ranks needs an MPI launcher (mpiexec), and none was found beside "
                      f"{sys.executable} or on PATH; install one with {MPI_FIX}")


def launch(n_ranks: int, argv: list[str]) -> int:
    """Run ``aersim <argv>`` (its ``--ranks`` removed) as ``n_ranks`` MPI ranks; returns the
    launcher's exit code."""
    if n_ranks < 1:
        raise ConfigError(f"--ranks must be at least 1, got {n_ranks}")
    load_mpi()
    cmd = [find_mpiexec(), "-n", str(n_ranks), sys.executable, "-m", "aersim.simcore.cli.main",
           *strip_ranks(argv)]
    return subprocess.run(cmd, check=False).returncode
