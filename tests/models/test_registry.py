"""The model table: discovered from the package, one code per model, a generated dispatch."""

import numpy as np
import pytest

from aersim.models.neurons import registry
from aersim.models.neurons.registry import (
    FIRST_TABLE_CODE,
    N_PARAMS,
    NeuronModel,
    all_models,
    code_of,
    dispatch_source,
    kind_codes,
    model_for_kind,
    model_modules,
    model_step_function,
    register,
    table_models,
)


def test_every_model_module_is_discovered_and_every_kind_has_one_code():
    names = {m.rsplit(".", 1)[1] for m in model_modules()}
    assert {"lif", "cuba", "alif", "loihi_cuba", "egru", "sigma_delta", "source"} <= names
    assert "registry" not in names
    table = all_models()
    kinds = [k for m in table.values() for k in m.kinds]
    assert len(kinds) == len(set(kinds))
    assert sorted(kind_codes()) == sorted(kinds)
    codes = {code_of(name) for name in table}
    assert len(codes) == len(table)
    # The first engine's built-in codes are fixed; table-run models come after them.
    assert [code_of(n) for n in ("source", "lif", "integrator", "cuba", "alif", "sigma_delta",
                                 "loihi_cuba", "egru")] == list(range(8))
    assert all(code >= FIRST_TABLE_CODE and m.step is not None for code, m in table_models())


def test_the_build_step_reads_the_table():
    from aersim.simcore.engine import build
    assert build.MODEL_KINDS == kind_codes()
    assert set(build.TIMESTEP_ONLY) == {k for m in all_models().values() if m.timestep_only
                                        for k in m.kinds}
    assert model_for_kind("li").name == "lif" and model_for_kind("nope") is None


def test_dispatch_calls_each_table_run_model_by_its_code():
    source = dispatch_source()
    step = model_step_function()
    assert step is model_step_function()                     # compiled once
    p = np.zeros(N_PARAMS)
    for code, m in table_models():
        assert f"if code == {code}:" in source
        # Each branch is that model's kernel: same answer as calling it directly.
        args = (*p, 0.25, -0.5, 0.0, 0.0, 1.0, 1e-3)
        assert step(code, *args) == m.step(*args)
    # An unknown code leaves the state as it is and sends nothing.
    assert step(99, *p, 0.25, -0.5, 0.125, 2.0, 1.0, 1e-3) == (0.25, -0.5, 0.125, 2.0, 0.0)


def test_conflicting_registrations_are_refused():
    table = dict(all_models())
    cols = lambda params, p, n: {}                           # noqa: E731
    with pytest.raises(ValueError, match="both claim the kind 'lif'"):
        register(NeuronModel("other_lif", kinds=("lif",), columns=cols, code=1))
    with pytest.raises(ValueError, match="both use engine code 4"):
        register(NeuronModel("lif", kinds=("lif", "li"), columns=cols, code=4))
    with pytest.raises(ValueError, match="register a table-run model with timestep_only"):
        register(NeuronModel("late", kinds=("late",), columns=cols, step=lambda *a: a))
    with pytest.raises(ValueError, match="registered after the engine read the table"):
        register(NeuronModel("late", kinds=("late",), columns=cols, step=lambda *a: a,
                             timestep_only=True))
    assert registry.all_models() == table                    # nothing was added
