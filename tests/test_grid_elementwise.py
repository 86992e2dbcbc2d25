"""Element-wise layers (ReLU, Power, Sigmoid, TanH, AbsVal, Exp, Log, Dropout in TEST,
Eltwise) on real nets' shapes against their formulas, one image at a time.

The reference applies each layer's textbook formula and derivative in float64 per batch
item (Caffe's loops run element by element; only the element loop is vectorised). Threads
off and forced on.
"""
import math

import numpy as np
import pytest

from grid_support import assert_close, f64, run_layer, threads, uniform  # noqa: F401

SHAPES = [(2, 64, 56, 56), (1, 3, 224, 224), (3, 5, 7, 7), (4, 1000)]


def per_item(fn, *arrays):
    """fn applied to each batch item's arrays; returns the stacked results."""
    outs = [fn(*(a[n] for a in arrays)) for n in range(len(arrays[0]))]
    return [np.stack(parts) for parts in zip(*outs)]


def relu(slope):
    return lambda x, dy: (np.where(x > 0, x, slope * x), dy * np.where(x > 0, 1.0, slope))


def power(p, a, b):
    def fn(x, dy):
        base = b + a * x
        if p * a == 0:
            return np.full_like(x, 1.0 if p == 0 else b ** p), np.zeros_like(x)
        return base ** p, dy * p * a * base ** (p - 1)
    return fn


def exp_(base, a, b):
    ln = 1.0 if base == -1 else math.log(base)
    return lambda x, dy: (np.exp(ln * (b + a * x)), dy * np.exp(ln * (b + a * x)) * ln * a)


def log_(base, a, b):
    ln = 1.0 if base == -1 else math.log(base)
    return lambda x, dy: (np.log(b + a * x) / ln, dy * a / ((b + a * x) * ln))


def sigmoid(x, dy):
    y = 1 / (1 + np.exp(-x))
    return y, dy * y * (1 - y)


# (layer text, reference, input range, phase)
NEURONS = {
    "relu": ("type: 'ReLU'", relu(0.0), (-1, 1)),
    "relu_leaky": ("type: 'ReLU' relu_param { negative_slope: 0.1 }", relu(0.1), (-1, 1)),
    "sigmoid": ("type: 'Sigmoid'", sigmoid, (-6, 6)),
    "tanh": ("type: 'TanH'", lambda x, dy: (np.tanh(x), dy * (1 - np.tanh(x) ** 2)), (-3, 3)),
    "absval": ("type: 'AbsVal'", lambda x, dy: (np.abs(x), dy * np.sign(x)), (-1, 1)),
    "power_square": ("type: 'Power' power_param { power: 2 scale: 0.5 shift: 1 }", power(2, 0.5, 1), (-1, 1)),
    "power_sqrt": ("type: 'Power' power_param { power: 0.5 shift: 2 }", power(0.5, 1, 2), (-1, 1)),
    "power_cube": ("type: 'Power' power_param { power: 3 scale: 2 }", power(3, 2, 0), (0.1, 1)),
    "power_linear": ("type: 'Power' power_param { scale: -1.5 shift: 0.2 }", power(1, -1.5, 0.2), (-1, 1)),
    "power_zero": ("type: 'Power' power_param { power: 0 scale: 3 }", power(0, 3, 0), (-1, 1)),
    "power_inverse": ("type: 'Power' power_param { power: -1 shift: 3 }", power(-1, 1, 3), (-1, 1)),
    "exp": ("type: 'Exp'", exp_(-1, 1, 0), (-3, 3)),
    "exp_base2": ("type: 'Exp' exp_param { base: 2 scale: 0.5 shift: 1 }", exp_(2, 0.5, 1), (-3, 3)),
    "log": ("type: 'Log'", log_(-1, 1, 0), (0.1, 4)),
    "log_base10": ("type: 'Log' log_param { base: 10 scale: 2 shift: 3 }", log_(10, 2, 3), (-1, 1)),
    "dropout_test": ("type: 'Dropout' dropout_param { dropout_ratio: 0.3 }",
                     lambda x, dy: (x.copy(), dy.copy()), (-1, 1)),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(NEURONS))
def test_neuron_grid(name, shape, threads):
    text, fn, (lo, hi) = NEURONS[name]
    x = uniform(shape, len(name), lo, hi)
    if lo < 0 < hi and name.startswith(("relu", "absval")):
        x.reshape(-1)[::7] = 0  # the kinks: Caffe gives ReLU the slope, AbsVal sign 0
    layer, bottom, top, (dy,) = run_layer(text, [x], phase=1)
    y, dx = per_item(fn, f64(x), dy)
    what = f"{name} {shape} threads {threads}"
    assert_close(top[0].data, y, what + " forward")
    assert_close(bottom[0].diff, dx, what + " backward")


@pytest.mark.parametrize("name", ["relu", "relu_leaky", "sigmoid", "tanh", "dropout_test"])
def test_neuron_in_place_grid(name, threads):
    """In place (top is bottom), as nets use ReLU, Dropout..."""
    from caffe_compat.blob import Blob
    from gradcheck import layer_from_text

    text, fn, (lo, hi) = NEURONS[name]
    x = uniform((2, 64, 56, 56), 9, lo, hi)
    layer = layer_from_text(f"name: 'g' {text}", 1)
    blob = Blob(x.shape)
    blob.data[...] = x
    layer.setup([blob], [blob])
    layer.reshape([blob], [blob])
    layer.forward([blob], [blob])
    dy = uniform(x.shape, 10)
    blob.diff[...] = dy
    layer.backward([blob], [True], [blob])
    y, dx = per_item(fn, f64(x), f64(dy))
    assert_close(blob.data, y, f"{name} in place forward")
    assert_close(blob.diff, dx, f"{name} in place backward")


def eltwise_reference(op, xs, dy, coeffs, stable):
    if op == "SUM":
        return sum(c * x for c, x in zip(coeffs, xs)), [c * dy for c in coeffs]
    if op == "PROD":
        y = np.prod(xs, axis=0)
        others = [np.prod([o for j, o in enumerate(xs) if j != i], axis=0) for i in range(len(xs))]
        return y, [dy * (o if stable else y / x) for o, x in zip(others, xs)]
    best, winner = xs[0].copy(), np.zeros(xs[0].shape, int)
    for i, x in enumerate(xs[1:], start=1):  # Caffe: a tie of bottoms 0 and 1 goes to 1
        wins = x >= best if i == 1 else x > best
        best[wins], winner[wins] = x[wins], i
    return best, [np.where(winner == i, dy, 0.0) for i in range(len(xs))]


@pytest.mark.parametrize("shape", [(2, 64, 56, 56), (1, 256, 14, 14), (3, 5, 7, 7)])
@pytest.mark.parametrize("op,coeffs,stable", [
    ("SUM", [1, 1, 1], True), ("SUM", [0.5, -2, 1.5], True), ("PROD", None, True),
    ("PROD", None, False), ("MAX", None, True),
])
def test_eltwise_grid(shape, op, coeffs, stable, threads):
    rng = np.random.default_rng(len(shape))
    if op == "MAX":
        xs = [rng.integers(-3, 4, shape).astype(np.float32) for _ in range(3)]  # ties
    else:
        xs = [uniform(shape, k, 0.5, 1.5) * rng.choice([-1, 1], shape).astype(np.float32)
              for k in range(3)]
    extra = "".join(f" coeff: {c}" for c in coeffs or [])
    text = (f"type: 'Eltwise' eltwise_param {{ operation: {op}{extra} "
            f"stable_prod_grad: {str(stable).lower()} }}")
    layer, bottom, top, (dy,) = run_layer(text, xs)
    y, dxs = eltwise_reference(op, [f64(x) for x in xs], dy, coeffs, stable)
    what = f"Eltwise {op} {coeffs} stable {stable} {shape} threads {threads}"
    assert_close(top[0].data, y, what + " forward")
    for i, (b, dx) in enumerate(zip(bottom, dxs)):
        assert_close(b.diff, dx, f"{what} d bottom {i}")
