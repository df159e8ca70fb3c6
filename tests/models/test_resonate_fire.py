"""Resonate-and-fire: the float form against the closed form, the fixed-point form against a
worked example by hand and against traces recorded from Lava 0.10.0's ``RF`` process."""

import math

import numpy as np
import pytest

from aersim.models import ParameterError
from aersim.models.neurons.registry import all_models, kind_codes, timestep_only_kinds
from aersim.models.neurons.resonate_fire import (
    LoihiRFParams,
    RFParams,
    encode_decays,
    loihi_rf_update,
    rf_step,
)


def float_run(params, steps, dt_s, inputs=None):
    """``(re, im, spiked)`` after each of ``steps`` steps of the float kernel."""
    p = params.per_neuron(1)
    re, im = p["re_init"][0], p["im_init"][0]
    out = []
    for k in range(steps):
        x = 0.0 if inputs is None else inputs[k]
        re, im, _, _, fired = rf_step(p["decay_per_s"][0], 2 * math.pi * p["freq_hz"][0],
                                      p["v_th"][0], 0.0, 0.0, 0.0, 0.0, 0.0, re, im, 0.0, 0.0,
                                      p["input_gain"][0] * x, dt_s)
        out.append((re, im, fired))
    return np.array(out)


def fixed_run(params, a_seq):
    p = params.per_neuron(1)
    re, im = int(p["re_init"][0]), int(p["im_init"][0])
    theta = int(p["vth"][0]) << int(p["state_exp"][0])
    res, ims, spikes = [], [], []
    for a in a_seq:
        re, im, s = loihi_rf_update(re, im, a, p["sin_decay"][0], p["cos_decay"][0], theta,
                                    p["state_exp"][0])
        res.append(int(re))
        ims.append(int(im))
        spikes.append(int(s))
    return res, ims, spikes


@pytest.mark.parametrize("lam, f, dt", [(0.0, 50.0, 1e-3), (35.0, 13.7, 2.5e-4),
                                        (400.0, 210.0, 1e-4)])
def test_float_form_is_the_closed_form_at_every_step(lam, f, dt):
    z0 = 0.8 - 1.3j
    params = RFParams(decay_per_s=lam, freq_hz=f, v_th=1e9, re_init=z0.real, im_init=z0.imag)
    out = float_run(params, 400, dt)
    t = dt * np.arange(1, 401)
    z = z0 * np.exp((-lam + 2j * np.pi * f) * t)
    # |z0| = 1.5: a few ulps per step, accumulated over 400 steps.
    np.testing.assert_allclose(out[:, 0], z.real, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], z.imag, rtol=0, atol=1e-12)
    assert not out[:, 2].any()                       # threshold out of reach


def test_float_form_spikes_on_the_upward_phase_crossing():
    # z0 = 1 (phase 0), 50 Hz, dt = 0.35 ms: phase 0 recurs every 20 ms = 57.14 steps, so the
    # imaginary part turns non-negative at steps 58, 115, 172, ... (never on the grid).
    params = RFParams(decay_per_s=5.0, freq_hz=50.0, v_th=0.5, re_init=1.0)
    out = float_run(params, 380, 3.5e-4)
    steps = np.flatnonzero(out[:, 2]) + 1            # row k holds step k + 1
    t = 3.5e-4 * np.arange(0, 381)
    z = np.exp((-5.0 + 2j * np.pi * 50.0) * t)
    rule = (z.imag[1:] >= 0) & (z.imag[:-1] < 0) & (z.real[1:] >= 0.5)
    assert steps.tolist() == (np.flatnonzero(rule) + 1).tolist() == [58, 115, 172, 229, 286,
                                                                     343]
    # A threshold of 0.85 is above the amplitude exp(-5 * 0.04) = 0.82 of the second crossing.
    high = float_run(RFParams(decay_per_s=5.0, freq_hz=50.0, v_th=0.85, re_init=1.0), 380,
                     3.5e-4)
    assert (np.flatnonzero(high[:, 2]) + 1).tolist() == [58]


def test_from_lava_matches_lavas_discrete_coefficients():
    params = RFParams.from_lava(period=12.5, alpha=0.07, vth=2.0, dt_s=1e-3, re_init=1.0)
    p = params.per_neuron(1)
    # One step from z = 1: Re = (1 - a) cos(2 pi / period), Im = (1 - a) sin(2 pi / period).
    z1 = float_run(params, 1, 1e-3)[0]
    assert z1[0] == pytest.approx(0.93 * math.cos(2 * math.pi / 12.5), abs=1e-15)
    assert z1[1] == pytest.approx(0.93 * math.sin(2 * math.pi / 12.5), abs=1e-15)
    assert p["v_th"][0] == 2.0


def test_encode_decays_rounds_as_lava_dl_or_truncates_as_lava():
    # 4096 * 0.9 * sin(pi / 4) = 2606.678...; 4096 * 0.9 * (cos, sin)(2 pi / 10) = 2982.36, 2166.81
    assert [int(v) for v in encode_decays(8, 0.1)] == [2607, 2607]
    assert [int(v) for v in encode_decays(8, 0.1, "truncate")] == [2606, 2606]
    sin_d, cos_d = encode_decays(np.array([10.0, 4.0]), 0.1)
    assert sin_d.tolist() == [2167, 3686] and cos_d.tolist() == [2982, 0]
    assert [int(v) for v in encode_decays(1e9, 0.0)] == [0, 4095]   # clamped to 12 bits
    with pytest.raises(ParameterError, match="period must be >= 4"):
        encode_decays(3.5, 0.1)
    with pytest.raises(ParameterError, match=r"decay must be in \[0, 1\)"):
        encode_decays(8, 1.0)
    with pytest.raises(ParameterError, match="rounding"):
        encode_decays(8, 0.1, "floor")


def test_fixed_point_worked_example_by_hand():
    # sin = cos = 2607 (period 8, decay 0.1, nearest), vth 40 << 6 = 2560, one input a = 100:
    #  t0: re = 100 << 6 = 6400, im = 0
    #  t1: re = rtz(2607*6400 / 4096) = rtz(4073.44) = 4073, im = 4073
    #  t2: re = 2592 - 2592 = 0 (2607*4073 / 4096 = 2592.36), im = 5184
    #  t3: re = -rtz(2607*5184 / 4096 = 3299.48) = -3299, im = 3299
    #  t4: re = rtz(-2099.73) - 2099 = -4198 (flooring would give -4199), im = 0
    #  t5: re = rtz(2607*-4198 / 4096 = -2671.0...) = -2671, im = -2671
    #  t6: re = 0, im = -3400;  t7: re = 2164, im = -2164
    #  t8: re = 2 * rtz(2607*2164 / 4096 = 1377.3) = 2754 >= 2560, im 0 >= 0 after -2164: spike
    params = LoihiRFParams.from_period(8, 0.1, vth=40)
    res, ims, spikes = fixed_run(params, [100] + [0] * 9)
    assert res == [6400, 4073, 0, -3299, -4198, -2671, 0, 2164, 2754, 1752]
    assert ims == [0, 4073, 5184, 3299, 0, -2671, -3400, -2164, 0, 1752]
    assert spikes == [0] * 8 + [1, 0]
    # The same crossing below threshold (vth 44 << 6 = 2816 > 2754) does not spike.
    assert not any(fixed_run(LoihiRFParams.from_period(8, 0.1, vth=44), [100] + [0] * 9)[2])


def test_fixed_point_saturates_the_24_bit_state():
    res, ims, _ = fixed_run(LoihiRFParams(sin_decay=0, cos_decay=4095, vth=1), [200000, -1])
    assert res[0] == (1 << 23) - 1                  # 200000 << 6 = 12.8 M, clamped
    assert res[1] == ((1 << 23) - 1) * 4095 // 4096 - 64 and ims == [0, 0]


#: Traces recorded from Lava 0.10.0 (``lava.proc.rf.process.RF`` with its ``fixed_pt`` model,
#: ``Loihi2SimCfg``, ``state_exp=6, decay_bits=12, vth=40``), input ``a_real_in`` of 100 at
#: step 0, -70 at step 13, 120 at step 21 (zero imaginary input), 40 steps.
LAVA_INPUT = {0: 100, 13: -70, 21: 120}
LAVA_TRACES = {
    (8, 0.1): dict(
        decays=(2606, 2606),
        re=[6400, 4071, 0, -3295, -4192, -2667, 0, 2158, 2744, 1745, 0, -1412, -1796, -5622,
            -2850, 924, 3481, 3681, 1866, -604, -2278, 5271, 3664, 396, -2463, -3453, -2398,
            -257, 1613, 2259, 1568, 167, -1056, -1477, -1024, -108, 691, 965, 668, 70],
        im=[0, 4071, 5180, 3295, 0, -2667, -3392, -2158, 0, 1745, 2220, 1412, 0, -1142, -4302,
            -4550, -2307, 747, 2816, 2978, 1510, -489, 3042, 4266, 2965, 319, -1994, -2793,
            -1939, -207, 1306, 1827, 1268, 135, -854, -1194, -827, -87, 558, 780],
        spikes=[8, 17, 22]),
    (11.3, 0.05): dict(
        decays=(2053, 3305),
        re=[6400, 5164, 2559, -529, -3161, -4624, -4610, -3267, -1114, 1150, 2859, 3576, 3191,
            -2557, -3389, -3162, -2046, -449, 1121, 2213, 2559, 9813, 7331, 2977, -1809, -5605,
            -7413, -6905, -4455, -960, 2469, 4850, 5599, 4659, 2468, -221, -2582, -3968, -4073,
            -2993],
        im=[0, 3207, 5175, 5457, 4138, 1754, -902, -3037, -4087, -3855, -2534, -612, 1299, 2647,
            854, -1009, -2398, -2959, -2612, -1546, -138, 1171, 5862, 8403, 8272, 5768, 1845,
            -2227, -5256, -6472, -5703, -3364, -284, 2577, 4414, 4798, 3761, 1740, -585, -2513],
        spikes=[12, 21, 33]),
}


@pytest.mark.parametrize("period, alpha", sorted(LAVA_TRACES))
def test_fixed_point_equals_lava_rf_traces(period, alpha):
    ref = LAVA_TRACES[(period, alpha)]
    params = LoihiRFParams.from_period(period, alpha, vth=40, rounding="truncate")
    assert (int(params.sin_decay), int(params.cos_decay)) == ref["decays"]
    res, ims, spikes = fixed_run(params, [LAVA_INPUT.get(k, 0) for k in range(40)])
    assert res == ref["re"] and ims == ref["im"]
    assert np.flatnonzero(spikes).tolist() == ref["spikes"]


def test_registered_in_the_model_table_as_timestep_only():
    assert {"rf", "loihi_rf"} <= set(all_models())
    codes = kind_codes()
    assert codes["rf"] != codes["loihi_rf"] and min(codes["rf"], codes["loihi_rf"]) >= 8
    assert {"rf", "loihi_rf"} <= set(timestep_only_kinds())


def test_bad_parameters_are_refused():
    with pytest.raises(ParameterError, match="'freq_hz' must be > 0"):
        RFParams(freq_hz=0.0)
    with pytest.raises(ParameterError, match="'decay_per_s' must be >= 0"):
        RFParams(decay_per_s=-1.0)
    with pytest.raises(ParameterError, match=r"alpha' must be in \[0, 1\)"):
        RFParams.from_lava(period=10, alpha=1.0, vth=1.0, dt_s=1e-3)
    with pytest.raises(ParameterError, match="'sin_decay' = 4096 is above"):
        LoihiRFParams(sin_decay=4096)
    with pytest.raises(ParameterError, match="must hold integers"):
        LoihiRFParams(vth=1.5)
    with pytest.raises(ParameterError, match="disagree in length"):
        LoihiRFParams(sin_decay=[1, 2], cos_decay=[1, 2, 3])
