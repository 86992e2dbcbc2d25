"""Pooling: Caffe's reference cases, a loop-by-loop oracle of Caffe's algorithm (ties,
mask top, ceil rounding), float64 gradient checks, and setup errors."""
import math

import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_shapes
from layer_case import case_names, compare_case

CASES = ["pool_max_ceil", "pool_ave_ceil", "pool_max_clip", "pool_max_k3s2_even",
         "pool_ave_k3s2_even", "pool_global_max", "pool_global_ave"]


def pool(params, name="pool"):
    return layer_from_text(f'name: "{name}" type: "Pooling" pooling_param {{ {params} }}')


def setup(layer, shape, num_top=1):
    return setup_shapes(layer, shape, num_top=num_top)


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    checked = compare_case(case)
    assert {"out/y", "indiff/x"} <= set(checked)


def test_every_pool_case_is_listed():
    assert case_names("pool_") == sorted(CASES)


def caffe_pool(x, dy, method, kh, kw, sh, sw, ph, pw):
    """Caffe's pooling_layer.cpp loops, written out plainly (the oracle)."""
    n, c, h, w = x.shape
    oh = math.ceil((h + 2 * ph - kh) / sh) + 1
    ow = math.ceil((w + 2 * pw - kw) / sw) + 1
    if ph or pw:
        oh -= (oh - 1) * sh >= h + ph
        ow -= (ow - 1) * sw >= w + pw
    y = np.zeros((n, c, oh, ow))
    mask = np.full((n, c, oh, ow), -1.0)
    dx = np.zeros_like(x)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    hs, ws_ = i * sh - ph, j * sw - pw
                    if method == "MAX":
                        he, we = min(hs + kh, h), min(ws_ + kw, w)
                        hs, ws_ = max(hs, 0), max(ws_, 0)
                        best, idx = -np.inf, -1
                        for r in range(hs, he):
                            for s in range(ws_, we):
                                if x[a, b, r, s] > best:
                                    best, idx = x[a, b, r, s], r * w + s
                        y[a, b, i, j], mask[a, b, i, j] = best, idx
                        dx[a, b, idx // w, idx % w] += dy[a, b, i, j]
                    else:
                        he, we = min(hs + kh, h + ph), min(ws_ + kw, w + pw)
                        size = (he - hs) * (we - ws_)
                        hs, ws_ = max(hs, 0), max(ws_, 0)
                        he, we = min(he, h), min(we, w)
                        y[a, b, i, j] = x[a, b, hs:he, ws_:we].sum() / size
                        dx[a, b, hs:he, ws_:we] += dy[a, b, i, j] / size
    return y, mask, dx


ORACLE_GRID = [
    (3, 3, 2, 2, 1, 1, (2, 2, 8, 9)),
    (2, 2, 2, 2, 1, 1, (1, 2, 5, 5)),   # last window would start in the padding
    (3, 2, 1, 2, 1, 0, (1, 3, 6, 7)),
    (2, 2, 2, 2, 0, 0, (2, 2, 7, 6)),   # odd size, ceil keeps a partial window
    (3, 3, 3, 3, 2, 2, (1, 1, 7, 8)),
    (2, 2, 2, 2, 0, 0, (2, 3, 8, 6)),   # exact tiling: the fast MAX path
    (3, 3, 3, 3, 0, 0, (1, 2, 9, 6)),
    (2, 3, 2, 3, 0, 0, (2, 2, 6, 9)),
    # The sizes real nets pool (small fixtures once hid an index overflow on these):
    (3, 3, 2, 2, 0, 0, (1, 2, 112, 112)),  # ResNet / GoogLeNet pool1, ceil-clipped windows
    (3, 3, 2, 2, 0, 0, (1, 2, 111, 111)),
    (3, 3, 2, 2, 0, 0, (1, 1, 147, 147)),  # Inception-v3 (299 input)
    (3, 3, 2, 2, 1, 1, (1, 1, 56, 55)),
    (3, 3, 2, 2, 0, 0, (1, 2, 55, 55)),    # AlexNet / CaffeNet pool1
    (3, 3, 2, 2, 0, 0, (1, 2, 27, 27)),
    (2, 2, 2, 2, 0, 0, (1, 2, 224, 224)),  # VGG pool1
    (7, 7, 1, 1, 0, 0, (1, 3, 7, 7)),      # ResNet's final pool
    (5, 5, 3, 3, 0, 0, (1, 2, 14, 14)),    # GoogLeNet's aux heads
    (3, 3, 1, 1, 1, 1, (1, 2, 28, 28)),    # inception pool projections
]


@pytest.mark.parametrize("method", ["MAX", "AVE", "MAX without mask top"])
@pytest.mark.parametrize("kh,kw,sh,sw,ph,pw,shape", ORACLE_GRID)
def test_against_caffe_loops_with_ties(method, kh, kw, sh, sw, ph, pw, shape):
    rng = np.random.default_rng(kh * 10 + sw)
    # Small integers: many exact ties, so MAX must pick the first maximum in window order.
    x = rng.integers(-3, 3, size=shape).astype(np.float32)
    num_top = 2 if method == "MAX" else 1
    method = method.split()[0]
    layer = pool(f"pool: {method} kernel_h: {kh} kernel_w: {kw} stride_h: {sh} stride_w: {sw} "
                 f"pad_h: {ph} pad_w: {pw}")
    bottom, top = setup(layer, shape, num_top)
    bottom[0].data[...] = x
    layer.forward(bottom, top)
    dy = rng.uniform(-1, 1, size=top[0].shape).astype(np.float32)
    top[0].diff[...] = dy
    bottom[0].diff[...] = 7  # must be overwritten
    layer.backward(top, [True], bottom)
    y, mask, dx = caffe_pool(x.astype(np.float64), dy.astype(np.float64), method, kh, kw, sh, sw, ph, pw)
    np.testing.assert_allclose(top[0].data, y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bottom[0].diff, dx, rtol=1e-5, atol=1e-6)
    if num_top == 2:
        np.testing.assert_array_equal(top[1].data, mask)


@pytest.mark.parametrize("h,k,s,p,want", [
    (8, 3, 2, 1, 5), (9, 3, 2, 1, 5), (4, 2, 2, 1, 3), (5, 2, 2, 1, 3), (7, 2, 2, 0, 4), (6, 3, 2, 0, 3),
])
def test_ceil_rounding(h, k, s, p, want):
    _, top = setup(pool(f"kernel_size: {k} stride: {s} pad: {p}"), (1, 1, h, h))
    assert top[0].shape == (1, 1, want, want)


def test_floor_round_mode():
    _, top = setup(pool("kernel_size: 2 stride: 2 round_mode: FLOOR"), (1, 1, 7, 7))
    assert top[0].shape == (1, 1, 3, 3)


GRAD_GRID = [
    "kernel_size: 3 stride: 2 pad: 1",
    "kernel_size: 2 stride: 2",
    "kernel_size: 3 stride: 1",
    "kernel_h: 3 kernel_w: 2 stride_h: 1 stride_w: 2 pad_h: 1 pad_w: 0",
    "global_pooling: true",
    "kernel_size: 2 stride: 2 pad: 0",
    "kernel_h: 3 kernel_w: 2 stride_h: 3 stride_w: 2",
]


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("params", GRAD_GRID)
def test_gradient(method, params):
    rng = np.random.default_rng(5)
    shape = (2, 2, 6, 6)
    # Distinct values, far apart compared with the finite-difference step.
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01
    check_gradient(pool(f"pool: {method} {params}"), [x])


@pytest.mark.parametrize("params,shape,ntop,pattern", [
    ("pool: STOCHASTIC kernel_size: 2", (1, 1, 4, 4), 1, "STOCHASTIC pooling is not supported"),
    ("kernel_size: 5", (1, 1, 3, 3), 1, "larger than the padded input"),
    ("kernel_size: 2 pad: 2", (1, 1, 4, 4), 1, "must be smaller than the kernel"),
    ("global_pooling: true kernel_size: 2", (1, 1, 4, 4), 1, "cannot be specified"),
    ("global_pooling: true stride: 2", (1, 1, 4, 4), 1, "only pad = 0 and stride = 1"),
    ("stride: 2", (1, 1, 4, 4), 1, "kernel_size"),
    ("kernel_size: 2 kernel_h: 2 kernel_w: 2", (1, 1, 4, 4), 1, "not both"),
    ("kernel_h: 2", (1, 1, 4, 4), 1, "kernel_h and kernel_w"),
    ("pool: AVE kernel_size: 2", (1, 1, 4, 4), 2, "only MAX pooling has a second"),
    ("kernel_size: 2", (1, 4, 4), 1, "must have 4 axes"),
])
def test_setup_errors(params, shape, ntop, pattern):
    with pytest.raises(LayerSetupError, match=pattern) as info:
        setup(pool(params, name="bad_pool"), shape, ntop)
    assert "bad_pool" in str(info.value)


def _caffe_max_pool_loop(x, k, s, p):
    """Caffe's MAX pooling forward (pooling_layer.cpp's loops): value and mask (h * W + w)
    of the first strict maximum, windows clipped to the image."""
    import math

    n, c, h, w = x.shape
    oh = int(math.ceil((h + 2 * p - k) / s)) + 1
    if p and (oh - 1) * s >= h + p:
        oh -= 1
    y = np.zeros((n, c, oh, oh), np.float32)
    m = np.zeros((n, c, oh, oh), np.float32)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(oh):
                    hs, ws = i * s - p, j * s - p
                    he, we = min(hs + k, h), min(ws + k, w)
                    best, idx = -np.inf, -1
                    for r in range(max(hs, 0), he):
                        for q in range(max(ws, 0), we):
                            if x[a, b, r, q] > best:
                                best, idx = x[a, b, r, q], r * w + q
                    y[a, b, i, j], m[a, b, i, j] = best, idx
    return y, m


@pytest.mark.parametrize("k, s, p, size", [(3, 2, 0, 32), (3, 2, 1, 16), (3, 1, 1, 7),
                                           (5, 3, 2, 11), (3, 3, 0, 9), (4, 2, 1, 10),
                                           (3, 2, 0, 15)])
def test_overlapping_max_pool_equals_caffes_loop_with_ties(k, s, p, size):
    """The separable path (max along rows, then over rows) keeps Caffe's first maximum in
    row-major order, ties included (small integers make many), and routes dy to it."""
    from google.protobuf import text_format

    import caffe_compat as caffe
    from caffe_compat.proto import caffe_pb2

    text = f'''layer {{ name: "x" type: "Input" top: "x"
                 input_param {{ shape {{ dim: 2 dim: 3 dim: {size} dim: {size} }} }} }}
               layer {{ name: "p" type: "Pooling" bottom: "x" top: "y" top: "m"
                 pooling_param {{ pool: MAX kernel_size: {k} stride: {s} pad: {p} }} }}'''
    net = caffe.Net(text_format.Parse(text, caffe_pb2.NetParameter()), caffe.TRAIN)
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    x = rng.integers(0, 4, size=(2, 3, size, size)).astype(np.float32)
    net.blobs["x"].data[...] = x
    net.forward()
    want_y, want_m = _caffe_max_pool_loop(x, k, s, p)
    np.testing.assert_array_equal(net.blobs["y"].data, want_y)
    np.testing.assert_array_equal(net.blobs["m"].data, want_m)
    dy = rng.standard_normal(want_y.shape).astype(np.float32)
    net.blobs["y"].diff[...] = dy
    net.layers[1].backward([net.blobs["y"], net.blobs["m"]], [True], [net.blobs["x"]])
    want_dx = np.zeros_like(x).reshape(2, 3, -1)
    for a in range(2):
        for b in range(3):
            np.add.at(want_dx[a, b], want_m[a, b].astype(int).ravel(), dy[a, b].ravel())
    np.testing.assert_allclose(net.blobs["x"].diff, want_dx.reshape(x.shape), atol=1e-6)
