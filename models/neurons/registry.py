"""The table of neuron models: every model module registers itself here; the engines and the
build step look models up here and nowhere else.

A model module (one file in ``models/neurons/``) calls :func:`register` at import time with a
:class:`NeuronModel`: the ``kind`` tags of its parameter classes, whether it runs in ``async``
mode, how its parameters become the engine's per-neuron columns, and — for models the engine
runs through the table — its per-neuron kernels. The package's modules are discovered by
listing ``models/neurons`` (:func:`all_models`), so adding a model is adding a file: no central
list, no engine code, no kind constant to edit.

**The uniform kernel signature.** A table-run model keeps its parameters in up to
:data:`N_PARAMS` float64 columns (``NeuronTables.mp[j, 0..N_PARAMS-1]``, in the order its
``param_names`` give) and its state in the engine's four state arrays ``v, cur, aux1, aux2``
(shape ``(n,)`` each; what they mean is the model's choice, stated in its ``state_names``).
Its one-step kernel is a Numba function of scalars only::

    step(p0, ..., p7, s0, s1, s2, s3, x, dt_s) -> (s0, s1, s2, s3, payload)

with ``x`` the step's summed input (weights times payloads, times the neuron's ``input_gain``)
and ``dt_s`` the step in seconds; ``payload`` is 0.0 for no spike, else what the spike carries
(1.0 for a plain spike). Scalars, not arrays: a Numba helper that takes arrays (or a named
tuple of arrays) costs reference counting on every call, measured 30x slower than the
arithmetic of a neuron update; the kernels are compiled with ``inline="always"``.

**Dispatch.** :func:`dispatch_source` writes the engines' dispatch function as Python source —
an ``if code == ...`` chain over the table-run models, each branch calling that model's kernel
— and :func:`model_step_function` returns that source compiled once per process (``numba.njit``,
``inline="always"``, so the engine kernel that calls it inlines the chain and the chosen
model's arithmetic; its on-disk cache holds the result). Unrolling a tuple of
``(code, function)`` pairs with ``numba.literal_unroll`` instead compiled 1.6x slower and ran
about 5 % slower, through Numba's experimental first-class function types (measurements in
``docs/neurons.md``).

Codes: the built-in models of the first engine keep the fixed codes 0..7 that the engines'
own branches test; every table-run model gets a code from :data:`FIRST_TABLE_CODE` on, in the
sorted order of the model names, when the table is first read.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

#: Parameter columns a table-run model may use (``NeuronTables.mp`` has this many).
N_PARAMS = 8
#: First code given to table-run models; codes below are the built-in models' fixed codes.
FIRST_TABLE_CODE = 8
_ARGS = ", ".join([f"p{i}" for i in range(N_PARAMS)] + ["s0", "s1", "s2", "s3", "x", "dt_s"])


@dataclass(frozen=True)
class NeuronModel:
    """One entry of the table.

    Attributes
    ----------
    name : str
        The model's name (unique; the name of the module that defines it, by convention).
    kinds : tuple of str
        ``kind`` tags of the parameter classes this entry runs (``LIFParams.kind`` ...).
    columns : callable
        ``columns(params, p, n) -> dict``: the engine's per-neuron columns for a population
        of ``n`` neurons with parameters ``params`` (``p = params.per_neuron(n)``). Keys are
        names of ``NeuronTables`` fields, each an ``(n,)`` array (or a scalar); ``"t_ref_s"``
        in seconds; ``"mp"`` an ``(n, k)`` float64 matrix of the table-run model's
        ``k <= N_PARAMS`` parameter columns. Columns it leaves out keep the build step's
        defaults.
    code : int or None
        Fixed engine code of a built-in model (0..7); None for a table-run model, whose code
        the table assigns.
    step : numba function or None
        The table-run model's one-step kernel (the uniform signature above); None for a
        built-in model, which the engines run in their own branches.
    param_names, state_names : tuple of str
        What the ``mp`` columns and the four state arrays hold (documentation and probes).
    timestep_only : bool
        Defined per time step only: ``async`` mode refuses the model with a ``ConfigError``.
        Required of table-run models (the event-driven engine has no table dispatch yet).
    graded : callable or None
        ``graded(params) -> bool``: the population's spikes carry a value.
    """

    name: str
    kinds: tuple
    columns: Callable
    code: int | None = None
    step: Callable | None = None
    param_names: tuple = ()
    state_names: tuple = ("v", "cur", "aux1", "aux2")
    timestep_only: bool = False
    graded: Callable | None = None

    @property
    def table_run(self) -> bool:
        """True when the engines run this model through the table's dispatch function."""
        return self.step is not None


_REGISTERED: dict[str, NeuronModel] = {}
_TABLE: dict[str, NeuronModel] | None = None
_CODES: dict[str, int] = {}


def register(model: NeuronModel) -> NeuronModel:
    """Add ``model`` to the table (called by the model's module at import time).

    Raises
    ------
    ValueError
        A second model of the same name or ``kind`` tag, a built-in code outside 0..7 or taken
        twice, a table-run model with a fixed code, more than ``N_PARAMS`` parameters, or
        not marked ``timestep_only``.
    """
    old = _REGISTERED.get(model.name)
    if old is not None and old.kinds != model.kinds:
        raise ValueError(f"two neuron models are named {model.name!r}")
    for other in _REGISTERED.values():
        if other.name == model.name:
            continue
        clash = set(other.kinds) & set(model.kinds)
        if clash:
            raise ValueError(f"neuron models {other.name!r} and {model.name!r} both claim the "
                             f"kind {sorted(clash)[0]!r}")
        if model.code is not None and other.code == model.code:
            raise ValueError(f"neuron models {other.name!r} and {model.name!r} both use engine "
                             f"code {model.code}")
    if model.table_run:
        if model.code is not None:
            raise ValueError(f"neuron model {model.name!r} runs through the table; leave its "
                             "code to the table")
        if not model.timestep_only:
            raise ValueError(f"neuron model {model.name!r}: the async engine runs the built-in "
                             "models only; register a table-run model with timestep_only=True")
        if len(model.param_names) > N_PARAMS:
            raise ValueError(f"neuron model {model.name!r} has {len(model.param_names)} "
                             f"parameter columns; the engine holds {N_PARAMS}")
    elif model.code is None or not 0 <= model.code < FIRST_TABLE_CODE:
        raise ValueError(f"built-in neuron model {model.name!r} needs a code in 0.."
                         f"{FIRST_TABLE_CODE - 1}")
    if _TABLE is not None and model.name not in _REGISTERED:
        raise ValueError(f"neuron model {model.name!r} registered after the engine read the "
                         "table; define it in a module of aersim.models.neurons")
    _REGISTERED[model.name] = model
    return model


def model_modules() -> list[str]:
    """Dotted names of the modules of ``aersim.models.neurons`` (every model lives in one)."""
    here = Path(__file__).resolve().parent
    return [f"{__package__}.{m.name}" for m in sorted(pkgutil.iter_modules([str(here)]),
                                                       key=lambda m: m.name)
            if not m.name.startswith("_") and m.name != "registry"]


def all_models() -> dict[str, NeuronModel]:
    """The table, name -> model: imports every model module once, then assigns codes."""
    global _TABLE
    if _TABLE is None:
        for name in model_modules():
            importlib.import_module(name)
        code = FIRST_TABLE_CODE
        for name in sorted(_REGISTERED):
            m = _REGISTERED[name]
            if m.table_run:
                _CODES[name] = code
                code += 1
            else:
                _CODES[name] = m.code
        _TABLE = dict(_REGISTERED)
    return _TABLE


def code_of(name: str) -> int:
    """Engine code of the model named ``name``."""
    all_models()
    return _CODES[name]


def model_for_kind(kind: str) -> NeuronModel | None:
    """The model that runs parameter ``kind`` tag ``kind``, or None."""
    for m in all_models().values():
        if kind in m.kinds:
            return m
    return None


def kind_codes() -> dict[str, int]:
    """Every ``kind`` tag -> its engine code (the build step's ``MODEL_KINDS``)."""
    return {k: code_of(m.name) for m in all_models().values() for k in m.kinds}


def timestep_only_kinds() -> tuple:
    """The ``kind`` tags of models defined per time step only."""
    return tuple(k for m in all_models().values() if m.timestep_only for k in m.kinds)


def table_models() -> list[tuple[int, NeuronModel]]:
    """``(code, model)`` of every table-run model, by code."""
    return sorted((code_of(m.name), m) for m in all_models().values() if m.table_run)


def param_matrix(model: NeuronModel, n: int, **columns) -> np.ndarray:
    """A table-run model's ``(n, k)`` parameter matrix from its named columns (scalars or
    ``(n,)`` arrays), in the order of ``model.param_names``."""
    missing = set(model.param_names) ^ set(columns)
    if missing:
        raise ValueError(f"{model.name}: parameter columns {sorted(missing)} do not match "
                         f"{model.param_names}")
    return np.stack([np.broadcast_to(np.asarray(columns[p], dtype=np.float64), (n,))
                     for p in model.param_names], axis=1) if model.param_names \
        else np.zeros((n, 0))


def dispatch_source() -> str:
    """Python source of the engines' dispatch function over the table-run models."""
    lines = [f"def model_step(code, {_ARGS}):",
             '    """One step of the table-run model ``code`` (see aersim.models.neurons.'
             'registry)."""']
    for code, _model in table_models():
        lines.append(f"    if code == {code}:")
        lines.append(f"        return _step_{code}({_ARGS})")
    lines.append("    return s0, s1, s2, s3, 0.0")
    return "\n".join(lines) + "\n"


def _compile_dispatch():
    namespace = {f"_step_{code}": m.step for code, m in table_models()}
    exec(compile(dispatch_source(), f"<{__name__}.model_step>", "exec"), namespace)
    return njit(inline="always")(namespace["model_step"])


_DISPATCH = []


def model_step_function():
    """The engines' dispatch function ``model_step(code, p0..p7, s0..s3, x, dt_s)``, compiled
    from :func:`dispatch_source` once per process."""
    if not _DISPATCH:
        _DISPATCH.append(_compile_dispatch())
    return _DISPATCH[0]
