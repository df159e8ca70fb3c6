"""The line a first run prints while Numba compiles (simcore.run.compile_notice)."""

from numba import njit

from aersim.simcore.run.compile_notice import compile_notice


def _fresh_kernel():
    """A kernel no process has compiled yet (no disk cache): its first call compiles."""
    @njit
    def add_one(x):
        return x + 1
    return add_one


def test_a_compilation_is_announced_once_and_timed(capsys):
    kernel = _fresh_kernel()
    with compile_notice(True):
        assert kernel(1) == 2
        assert kernel(2.5) == 3.5       # a second specialisation: no second announcement
    err = capsys.readouterr().err
    assert err.count("aersim: compiling the engine") == 1
    assert "aersim: compiled in" in err
    with compile_notice(True):
        assert kernel(3) == 4           # compiled already: nothing to say
    assert capsys.readouterr().err == ""


def test_silent_when_not_shown_and_reported_once_when_nested(capsys):
    with compile_notice(False):
        _fresh_kernel()(1)
    assert capsys.readouterr().err == ""
    with compile_notice(True):
        with compile_notice(True):
            _fresh_kernel()(1)
        _fresh_kernel()(1)
    err = capsys.readouterr().err
    assert err.count("compiling the engine") == 1 and err.count("compiled in") == 1
