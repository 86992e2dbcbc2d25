"""ReLU, Sigmoid, TanH, AbsVal, Power, Exp, Log: Caffe's numbers and numeric gradients."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from gradcheck import check_gradient, layer_from_text
from layer_case import compare_case

SHAPES = [(2, 3, 4), (5, 4)]


def layer(type_name, params=""):
    return layer_from_text(f'name: "l" type: "{type_name}" bottom: "x" top: "y" {params}')


def forward(lyr, x):
    bottom, top = [Blob(x.shape, dtype=x.dtype)], [Blob((), dtype=x.dtype)]
    bottom[0].data[...] = x
    lyr.setup(bottom, top)
    lyr.reshape(bottom, top)
    lyr.forward(bottom, top)
    return top[0].data


@pytest.mark.parametrize("case", ["relu", "relu_leaky", "sigmoid", "tanh", "power_int",
                                  "power_frac"])
def test_matches_caffe(case):
    compare_case(case)


# -- ReLU ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_relu_gradient(shape, slope):
    x = np.random.default_rng(1).uniform(-1, 1, shape)
    x.reshape(-1)[::5] = 0  # the kink itself: skipped by the checker
    lyr = layer("ReLU", f"relu_param {{ negative_slope: {slope} }}")
    check_gradient(lyr, [x], kink=0.0, kink_range=1e-3)


def test_relu_zero_takes_slope_branch():
    # Caffe: dx = dy * ((x > 0) + slope * (x <= 0)), so x == 0 gets the slope.
    lyr = layer("ReLU", "relu_param { negative_slope: 0.25 }")
    bottom, top = [Blob((3,))], [Blob(())]
    bottom[0].data[...] = [-2.0, 0.0, 3.0]
    lyr.setup(bottom, top)
    lyr.reshape(bottom, top)
    lyr.forward(bottom, top)
    np.testing.assert_array_equal(top[0].data, np.float32([-0.5, 0.0, 3.0]))
    top[0].diff[...] = 1
    lyr.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, np.float32([0.25, 0.25, 1.0]))


def test_relu_in_place():
    lyr = layer("ReLU", "relu_param { negative_slope: 0.5 }")
    b = Blob((4,))
    b.data[...] = [-2.0, -1.0, 1.0, 2.0]
    lyr.setup([b], [b])
    lyr.reshape([b], [b])
    lyr.forward([b], [b])
    np.testing.assert_array_equal(b.data, np.float32([-1.0, -0.5, 1.0, 2.0]))
    b.diff[...] = 2
    lyr.backward([b], [True], [b])
    np.testing.assert_array_equal(b.diff, np.float32([1.0, 1.0, 2.0, 2.0]))


# -- Sigmoid, TanH, AbsVal ----------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("type_name", ["Sigmoid", "TanH"])
def test_smooth_gradient(shape, type_name):
    x = np.random.default_rng(2).normal(0, 2, shape)
    check_gradient(layer(type_name), [x])


def test_sigmoid_values():
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(forward(layer("Sigmoid"), x), 1 / (1 + np.exp(-x)), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
def test_absval_gradient(shape):
    x = np.random.default_rng(3).uniform(-1, 1, shape)
    check_gradient(layer("AbsVal"), [x], kink=0.0, kink_range=1e-3)


def test_absval_values_and_in_place_refused():
    x = np.float32([-1.5, 0.0, 2.0])
    np.testing.assert_array_equal(forward(layer("AbsVal"), x), np.abs(x))
    b = Blob((3,))
    with pytest.raises(Exception, match="in-place"):
        layer("AbsVal").setup([b], [b])


# -- Power --------------------------------------------------------------------------------
POWER_PARAMS = [  # (power, scale, shift): each of Caffe's backward branches
    (2.0, 0.5, -0.3), (2.0, 1.5, 0.0), (3.0, 0.7, 0.0), (-0.75, 0.1, 1.0), (0.5, 2.0, 0.2),
    (1.0, -1.3, 0.4), (0.0, 1.0, 0.7), (1.7, 0.0, 1.1),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("power,scale,shift", POWER_PARAMS)
def test_power_gradient(shape, power, scale, shift):
    x = np.random.default_rng(4).uniform(0.2, 2.0, shape)
    lyr = layer("Power", f"power_param {{ power: {power} scale: {scale} shift: {shift} }}")
    check_gradient(lyr, [x])


@pytest.mark.parametrize("power,scale,shift", POWER_PARAMS)
def test_power_values(power, scale, shift):
    x = np.random.default_rng(5).uniform(0.2, 2.0, (7,))
    lyr = layer("Power", f"power_param {{ power: {power} scale: {scale} shift: {shift} }}")
    p, a, b = (float(np.float32(v)) for v in (power, scale, shift))
    np.testing.assert_allclose(forward(lyr, x), (b + a * x) ** p, rtol=1e-12)


def test_power_defaults_are_identity():
    x = np.random.default_rng(6).normal(size=(3, 4))
    np.testing.assert_array_equal(forward(layer("Power"), x), x)


# -- Exp, Log -----------------------------------------------------------------------------
EXP_LOG_PARAMS = ["", "base: 2 scale: 0.5 shift: -0.25", "base: 10 scale: -1.5 shift: 0.5",
                  "scale: 3 shift: 1"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("params", EXP_LOG_PARAMS)
def test_exp_gradient(shape, params):
    x = np.random.default_rng(7).uniform(-1, 1, shape)
    check_gradient(layer("Exp", f"exp_param {{ {params} }}"), [x])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("params", EXP_LOG_PARAMS)
def test_log_gradient(shape, params):
    x = np.random.default_rng(8).uniform(1.0, 2.0, shape)
    if "-1.5" in params:
        x = -x / 3  # keep shift + scale * x positive
    check_gradient(layer("Log", f"log_param {{ {params} }}"), [x])


def _base_scale_shift(params):
    vals = dict(base=-1.0, scale=1.0, shift=0.0)
    words = params.split()
    for key, value in zip(words[::2], words[1::2]):
        vals[key.rstrip(":")] = float(np.float32(value))
    base = np.e if vals["base"] == -1 else vals["base"]
    return base, vals["scale"], vals["shift"]


@pytest.mark.parametrize("params", EXP_LOG_PARAMS)
def test_exp_log_values(params):
    base, scale, shift = _base_scale_shift(params)
    x = np.random.default_rng(9).uniform(0.1, 0.3, (6,))
    np.testing.assert_allclose(forward(layer("Exp", f"exp_param {{ {params} }}"), x),
                               base ** (shift + scale * x), rtol=1e-12)
    x = x + 1.0 if scale > 0 else -x  # keep shift + scale * x positive
    np.testing.assert_allclose(forward(layer("Log", f"log_param {{ {params} }}"), x),
                               np.log(shift + scale * x) / np.log(base), rtol=1e-12)


@pytest.mark.parametrize("type_name", ["Exp", "Log"])
def test_bad_base_is_an_error(type_name):
    lyr = layer(type_name, f"{type_name.lower()}_param {{ base: -2 }}")
    with pytest.raises(Exception, match="strictly positive"):
        lyr.setup([Blob((2,))], [Blob(())])
