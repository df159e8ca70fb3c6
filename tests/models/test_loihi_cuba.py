"""Loihi fixed-point CUBA against neurons.md §3.5 (cases A, B, C) bit for bit, and §3.3."""

import numpy as np
import pytest

from aersim.models import ParameterError
from aersim.models.neurons.loihi_cuba import (
    LoihiCubaParams,
    loihi_cuba_step,
    loihi_dendrite_input,
    rtz12,
    sat24,
    weights_to_loihi,
    wrap24,
)


def run(params, a_seq):
    p = params.per_neuron(1)
    u, v, hold = int(p["u_init"][0]), int(p["v_init"][0]), 0
    us, vs, spikes, payloads = [], [], [], []
    for a in a_seq:
        u, v, s, pay, hold = loihi_cuba_step(u, v, a, p["d_u"][0], p["d_v"][0], p["bias"][0],
                                             p["theta"][0], hold, p["hold_steps"][0])
        us.append(int(u))
        vs.append(int(pay) if s else int(v))  # v before the reset, as in the table
        spikes.append(bool(s))
        payloads.append(int(pay))
    return us, vs, spikes, payloads


def test_case_a_constant_input():
    us, vs, spikes, payloads = run(LoihiCubaParams(d_u=1024, d_v=256, vth=10), [3] * 5)
    assert us == [192, 336, 444, 525, 585]
    assert vs == [192, 516, 927, 525, 1077]
    assert spikes == [False, False, True, False, True]
    assert payloads == [0, 0, 927, 0, 1077]  # graded payload is v before the reset


def test_case_b_round_toward_zero():
    us, vs, spikes, _ = run(LoihiCubaParams(d_u=1024, d_v=256, vth=10), [-3, -3, 0, 0, 0])
    assert us == [-192, -336, -252, -189, -141]
    assert vs == [-192, -516, -735, -878, -964]  # flooring would give -736 at t = 3
    assert not any(spikes)


def test_case_c_bias():
    params = LoihiCubaParams(d_u=1024, d_v=410, vth=10, bias_mant=3, bias_exp=6)
    _, vs, spikes, _ = run(params, [0] * 5)
    assert vs == [192, 364, 519, 659, 192]
    assert spikes == [False, False, False, True, False]


def test_hold_steps_keeps_v_at_zero_while_u_integrates():
    free = run(LoihiCubaParams(d_u=1024, d_v=256, vth=10), [3] * 6)
    held = run(LoihiCubaParams(d_u=1024, d_v=256, vth=10, hold_steps=2), [3] * 6)
    assert held[0] == free[0]  # u identical
    assert held[2][:3] == [False, False, True]
    assert held[1][3:5] == [0, 0]  # held for t+1..t+2
    # first step after the hold: decays 0 and adds u_6
    assert held[1][5] == free[0][5]


def test_overflow_rules():
    assert rtz12(-4095) == 0 and rtz12(-4096) == -1 and rtz12(4097) == 1
    assert wrap24(2 ** 23) == 2 ** 23 and wrap24(2 ** 23 + 1) == 2 ** 23 + 1 - 2 ** 24
    assert wrap24(-(2 ** 23)) == 2 ** 23 and wrap24(-(2 ** 23) + 1) == -(2 ** 23) + 1
    assert sat24(2 ** 30) == 2 ** 23 - 1 and sat24(-(2 ** 30)) == -(2 ** 23 - 1)
    assert loihi_dendrite_input(-5, -1) == -3 and loihi_dendrite_input(5, 2) == 20
    # a large input wraps u and saturates v
    p = LoihiCubaParams(d_u=4096, d_v=0, vth=(1 << 17) - 1)
    us, vs, _, _ = run(p, [2 ** 17 + 1] * 2)
    assert us[0] == (2 ** 17 + 1) * 64 - 2 ** 24
    assert vs[0] == us[0]


def test_weights_to_loihi():
    w = np.array([-300, -7, -1, 0, 1, 7, 254, 300])
    assert weights_to_loihi(w, 8, "mixed").tolist() == [-256, -8, -2, 0, 0, 6, 254, 254]
    assert weights_to_loihi(w, 8, "excitatory").tolist() == [0, 0, 0, 0, 1, 7, 254, 255]
    assert weights_to_loihi(w, 6, "inhibitory").tolist() == [-252, -4, 0, 0, 0, 0, 0, 0]
    assert weights_to_loihi(w, 4, "mixed").tolist() == [-256, -32, -32, 0, 0, 0, 224, 224]


def test_per_neuron_and_tags():
    p = LoihiCubaParams(d_u=[1, 2, 3], vth=7, bias_mant=-5, bias_exp=-1, num_message_bits=8)
    arrs = p.per_neuron(3)
    assert arrs["d_u"].dtype == np.int64 and arrs["d_u"].tolist() == [1, 2, 3]
    assert arrs["theta"].tolist() == [448] * 3 and arrs["bias"].tolist() == [-3] * 3
    assert p.kind == "loihi_cuba" and p.spiking and p.graded
    assert not LoihiCubaParams().graded
    with pytest.raises(ParameterError, match="'d_u' has 3 values but the population has 4"):
        p.per_neuron(4)


@pytest.mark.parametrize("kwargs,match", [
    (dict(d_u=4097), "'d_u' = 4097 is above its range"),
    (dict(d_v=-1), "'d_v' = -1 is below its range"),
    (dict(vth=1.5), "'vth' must hold integers"),
    (dict(vth=1 << 17), "'vth' = 131072 is above"),
    (dict(bias_mant=4096), "'bias_mant' = 4096 is above"),
    (dict(hold_steps=-1), "'hold_steps' = -1 is below"),
    (dict(weight_exp=[1, 2]), "'weight_exp' is one value per population"),
    (dict(num_message_bits=25), "'num_message_bits' = 25 is above"),
    (dict(d_u=[1, 2], d_v=[1, 2, 3]), "disagree in length"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        LoihiCubaParams(**kwargs)


def test_weights_to_loihi_errors():
    with pytest.raises(ParameterError, match="sign_mode 'both'"):
        weights_to_loihi([1], 8, "both")
    with pytest.raises(ParameterError, match="integer weight mantissas"):
        weights_to_loihi([0.5], 8)
    with pytest.raises(ParameterError, match="num_weight_bits must be an integer in 1..8"):
        weights_to_loihi([1], 9)
