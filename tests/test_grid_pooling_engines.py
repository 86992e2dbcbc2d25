"""Pooling's two engines on the pooling shapes of the benchmarked nets.

``engine: DEFAULT`` runs the fast engine (caffe_compat/layer_types/_pooling_fast.py),
``engine: CAFFE`` Caffe's own path. Every case runs both on the same input and checks:
the fast engine against the plain loop reference of test_grid_pooling (Caffe's loops);
for MAX, the fast engine against the CAFFE engine bit for bit (value, mask and the summed
gradients: max is exact and the gradients are added in Caffe's order); for AVE, within
float32 rounding. Inputs are small integers, so MAX windows meet many exact ties; one case
has whole planes of equal values. Threads off and on (grid_support.threads).
"""
import numpy as np
import pytest

import caffe_compat
from caffe_compat import engines
from caffe_compat.blob import Blob
from caffe_compat.layer_types.pooling import PoolingLayer
from gradcheck import layer_from_text
from grid_support import assert_close, f64, run_layer, threads  # noqa: F401  (fixture)
from test_grid_pooling import pool_reference


@pytest.fixture(autouse=True)
def fields_decide(monkeypatch):
    """Each layer's own engine field decides, whatever TSCAFFE_ENGINE the run has (restored),
    and the fast kernel runs wherever it applies (no timed choice of Caffe's path instead)."""
    monkeypatch.delenv("TSCAFFE_ENGINE", raising=False)
    monkeypatch.setattr(engines, "_override", None)
    monkeypatch.setattr(PoolingLayer, "choose_by_timing", False)


# (shape, kernel, stride, pad) at the nets' map sizes (batch and channels cut down):
NET_GRID = [
    ((2, 3, 32, 32), 3, 2, 0),      # cifar10 / NIN pool1 (ceil: last window clipped)
    ((2, 3, 16, 16), 3, 2, 0),      # cifar10 / NIN pool2
    ((3, 2, 8, 8), 3, 2, 0),        # cifar10 pool3
    ((1, 2, 112, 112), 3, 2, 0),    # ResNet-50 / GoogLeNet pool1
    ((1, 2, 113, 113), 3, 2, 0),    # SqueezeNet pool1: odd map, last window full
    ((1, 3, 56, 56), 3, 2, 0),      # GoogLeNet pool2, SqueezeNet pool3
    ((1, 4, 28, 28), 3, 1, 1),      # inception pool projections (stride 1, pad 1)
    ((1, 4, 14, 14), 3, 1, 1),
    ((1, 4, 7, 7), 3, 1, 1),
    ((1, 4, 14, 14), 3, 2, 0),      # GoogLeNet pool4
    ((1, 2, 224, 224), 2, 2, 0),    # VGG pool1 (exact 2x2 tiling)
    ((2, 3, 28, 28), 2, 2, 0),      # VGG on MNIST
    ((2, 3, 7, 7), 2, 2, 0),        # ... pool3: 7 -> 4, last window clipped (ceil)
    ((2, 3, 2, 2), 2, 2, 0),        # ... pool5
    ((2, 3, 24, 24), 2, 2, 0),      # LeNet pool1
    ((2, 3, 8, 8), 8, 1, 0),        # NIN pool3: kernel = map
    ((1, 4, 7, 7), 7, 1, 0),        # ResNet / GoogLeNet final pool
    ((1, 2, 56, 56), 3, 2, 1),      # padded, ceil
    ((1, 2, 57, 56), 5, 4, 2),      # stride 4, pad 2, odd and even
    ((1, 2, 56, 55), 7, 2, 3),      # kernel 7, pad 3
    ((2, 2, 10, 10), 2, 3, 0),      # kernel < stride: some pixels in no window
    ((2, 2, 5, 5), 2, 2, 1),        # last window would start in the padding: dropped
]


def _text(method, k, s, p, engine, extra=""):
    return (f"type: 'Pooling' pooling_param {{ pool: {method} kernel_size: {k} stride: {s} "
            f"pad: {p} engine: {engine} {extra}}}")


def _both(text_of, x, num_top, seed, expect_fast=True):
    """(layer, bottom, top, dys) for the fast engine and for Caffe's, same input and dy."""
    fast = run_layer(text_of("DEFAULT"), [x], num_top=num_top, propagate=[True], seed=seed)
    caffe = run_layer(text_of("CAFFE"), [x], num_top=num_top, propagate=[True], seed=seed)
    assert fast[0]._fast_done or not expect_fast, "the fast engine did not run"
    assert caffe[0].fast is None and not caffe[0]._fast_done
    return fast, caffe


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("shape,k,s,p", NET_GRID)
def test_fast_engine_on_net_shapes(shape, k, s, p, method, threads):
    x = np.random.default_rng(sum(shape) + k + s).integers(-3, 4, shape).astype(np.float32)
    num_top = 2 if method == "MAX" else 1
    fast, caffe = _both(lambda e: _text(method, k, s, p, e), x, num_top, seed=k + p)
    (_, fb, ft, dys), (_, cb, ct, _) = fast, caffe
    y, mask, dx = pool_reference(f64(x), dys[0], method, (k, k), (s, s), (p, p))
    what = f"{method} {shape} k{k} s{s} p{p} threads {threads}"
    assert_close(ft[0].data, y, what + " forward vs loops", rtol=1e-6)
    assert_close(fb[0].diff, dx, what + " backward vs loops")
    if method == "MAX":
        np.testing.assert_array_equal(ft[1].data, mask, err_msg=what + " mask vs loops")
        for got, want, part in ((ft[0].data, ct[0].data, "forward"), (ft[1].data, ct[1].data, "mask"),
                                (fb[0].diff, cb[0].diff, "backward")):
            np.testing.assert_array_equal(got, want, err_msg=f"{what} {part}: fast vs CAFFE engine")
    else:
        np.testing.assert_allclose(ft[0].data, ct[0].data, rtol=1e-6, atol=1e-6, err_msg=what)
        np.testing.assert_allclose(fb[0].diff, cb[0].diff, rtol=1e-6, atol=1e-7, err_msg=what)


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("shape", [(2, 8, 7, 7), (1, 16, 14, 14), (3, 4, 1, 1)])
def test_fast_engine_global_pooling(shape, method, threads):
    x = np.random.default_rng(shape[1]).integers(-3, 4, shape).astype(np.float32)
    fast, caffe = _both(lambda e: f"type: 'Pooling' pooling_param {{ pool: {method} "
                        f"global_pooling: true engine: {e} }}", x, 1, seed=3)
    (_, fb, ft, dys), (_, cb, _, _) = fast, caffe
    y, _, dx = pool_reference(f64(x), dys[0], method, shape[2:], (1, 1), (0, 0))
    assert_close(ft[0].data, y, f"global {method} forward", rtol=1e-6)
    assert_close(fb[0].diff, dx, f"global {method} backward")
    if method == "MAX":
        np.testing.assert_array_equal(fb[0].diff, cb[0].diff)


@pytest.mark.parametrize("k,s,p", [(3, 2, 0), (3, 1, 1), (2, 2, 0)])
def test_fast_max_ties_go_to_the_first_in_window_order(k, s, p, threads):
    """Planes of one value (every window a full tie), one of zeros with a single -0, and
    two maxima per window: the gradient goes to the first in row-major window order."""
    x = np.zeros((2, 3, 9, 10), np.float32)
    x[0, 0] = 5
    x[0, 1, 4, 4] = -0.0
    x[1] = np.random.default_rng(7).integers(0, 2, (3, 9, 10))
    fast, caffe = _both(lambda e: _text("MAX", k, s, p, e), x, 2, seed=5)
    (_, fb, ft, dys), (_, cb, _, _) = fast, caffe
    _, mask, dx = pool_reference(f64(x), dys[0], "MAX", (k, k), (s, s), (p, p))
    np.testing.assert_array_equal(ft[1].data, mask)
    assert_close(fb[0].diff, dx, f"ties k{k} s{s} p{p} backward vs loops")  # float64 sums there
    np.testing.assert_array_equal(fb[0].diff, cb[0].diff)


@pytest.mark.parametrize("num_top", [1, 2])
def test_timed_choice_on_2x2_tiling_keeps_one_engine_and_caffes_results(num_top, monkeypatch):
    """By default MAX 2x2/2 tiling alternates the fast kernel and Caffe's path over the first
    iterations (engines.Pick, forward + backward timed) and keeps the faster; every iteration
    gives Caffe's results."""
    monkeypatch.setattr(PoolingLayer, "choose_by_timing", True)
    rng = np.random.default_rng(9)
    layers = {e: layer_from_text(f"name: 'p' {_text('MAX', 2, 2, 0, e)}") for e in ("DEFAULT", "CAFFE")}
    blobs = {e: (Blob((2, 3, 32, 32)), [Blob() for _ in range(num_top)]) for e in layers}
    for e, layer in layers.items():
        layer.setup([blobs[e][0]], blobs[e][1])
    ran = set()
    for _ in range(8):
        x = rng.integers(-3, 4, (2, 3, 32, 32)).astype(np.float32)
        dy = rng.uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32)
        for e, layer in layers.items():
            b, tops = blobs[e]
            b.data[...] = x
            layer.reshape([b], tops)
            layer.forward([b], tops)
            tops[0].diff[...] = dy
            layer.backward(tops, [True], [b])
        ran.add(layers["DEFAULT"]._fast_done)
        for t_fast, t_caffe in zip(blobs["DEFAULT"][1], blobs["CAFFE"][1]):
            np.testing.assert_array_equal(t_fast.data, t_caffe.data)
        np.testing.assert_array_equal(blobs["DEFAULT"][0].diff, blobs["CAFFE"][0].diff)
    layer = layers["DEFAULT"]
    assert ran == {True, False}, "both kernels take turns while timing"
    (pick,) = layer._choice.values()
    assert pick.chosen in ("fast", "caffe")
    assert layer._fast_done == (pick.chosen == "fast")
    assert engines.describe(layer) == ("DEFAULT: FastPool" if layer._fast_done
                                       else "DEFAULT: caffe (not worth a faster kernel here)")


def test_no_timing_where_the_fast_kernel_always_wins(monkeypatch):
    monkeypatch.setattr(PoolingLayer, "choose_by_timing", True)
    x = np.random.default_rng(9).integers(-3, 4, (2, 3, 32, 32)).astype(np.float32)
    for text in (_text("MAX", 3, 2, 0, "DEFAULT"), _text("AVE", 3, 2, 0, "DEFAULT")):
        layer = run_layer(text, [x], propagate=[True])[0]
        assert layer._fast_done and not layer._choice, text


def test_fast_max_with_nan_takes_caffes_path():
    """A NaN's window has no value to match: that iteration runs Caffe's path."""
    x = np.random.default_rng(1).integers(-3, 4, (2, 2, 12, 12)).astype(np.float32)
    x[1, 0, 5, 6] = np.nan
    fast, caffe = _both(lambda e: _text("MAX", 3, 2, 0, e), x, 2, seed=1, expect_fast=False)
    assert fast[0].fast is not None and not fast[0]._fast_done
    for a, b in ((fast[2][0].data, caffe[2][0].data), (fast[2][1].data, caffe[2][1].data),
                 (fast[1][0].diff, caffe[1][0].diff)):
        np.testing.assert_array_equal(a, b)


def test_fast_layer_reused_across_iterations_and_in_place_top():
    """The second forward/backward (and a top changed in place between them, as an in-place
    ReLU does) gives the same gradients as Caffe's path."""
    rng = np.random.default_rng(4)
    layers = {e: layer_from_text(f"name: 'p' {_text('MAX', 3, 2, 0, e)}") for e in ("DEFAULT", "CAFFE")}
    blobs = {e: (Blob((2, 3, 15, 15)), Blob()) for e in layers}
    for e, layer in layers.items():
        layer.setup([blobs[e][0]], [blobs[e][1]])
        layer.reshape([blobs[e][0]], [blobs[e][1]])
    for _ in range(2):
        x = rng.integers(-3, 4, (2, 3, 15, 15)).astype(np.float32)
        dy = rng.uniform(-1, 1, (2, 3, 7, 7)).astype(np.float32)
        for e, layer in layers.items():
            b, t = blobs[e]
            b.data[...] = x
            layer.forward([b], [t])
            np.maximum(t.data, 0, out=t.data)  # an in-place ReLU on the top
            t.diff[...] = dy
            layer.backward([t], [True], [b])
        np.testing.assert_array_equal(blobs["DEFAULT"][0].diff, blobs["CAFFE"][0].diff)


def test_float64_and_engine_caffe_take_caffes_path(monkeypatch):
    b64, top = Blob((1, 2, 8, 8), dtype=np.float64), Blob(dtype=np.float64)
    layer = layer_from_text(f"name: 'p' {_text('MAX', 3, 2, 0, 'DEFAULT')}")
    layer.setup([b64], [top])
    layer.reshape([b64], [top])
    assert layer.fast is None
    for force in ("env", "call"):
        if force == "env":
            monkeypatch.setenv("TSCAFFE_ENGINE", "CAFFE")
        else:
            monkeypatch.delenv("TSCAFFE_ENGINE")
            caffe_compat.set_engine("CAFFE")
        try:
            b, t = Blob((1, 2, 8, 8)), Blob()
            layer = layer_from_text(f"name: 'p' {_text('AVE', 3, 2, 0, 'DEFAULT')}")
            layer.setup([b], [t])
            layer.reshape([b], [t])
            assert layer.engine == engines.CAFFE and layer.fast is None, force
        finally:
            monkeypatch.setattr(engines, "_override", None)


def test_fast_layer_after_deepcopy():
    """A deep copy (Workspaces copy empty) rebuilds what it needs: same results as Caffe's path."""
    import copy

    x = np.random.default_rng(6).integers(-3, 4, (2, 3, 15, 15)).astype(np.float32)
    fast, caffe = _both(lambda e: _text("MAX", 3, 2, 0, e), x, 1, seed=4)
    layer, bottom, top = copy.deepcopy(fast[0]), fast[1], fast[2]
    layer.forward(bottom, top)
    layer.backward(top, [True], bottom)
    assert layer._fast_done
    np.testing.assert_array_equal(top[0].data, caffe[2][0].data)
    np.testing.assert_array_equal(bottom[0].diff, caffe[1][0].diff)
