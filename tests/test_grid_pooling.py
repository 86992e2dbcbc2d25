"""Pooling (MAX, AVE, global) on a grid of real nets' shapes against Caffe's loops.

The reference is Caffe's pooling loop written plainly: for every output (i, j) the window
``[i*s - pad, i*s - pad + k)`` (AVE's divisor counts the padding but stops at ``H + pad``;
then the window is clipped to the image), MAX taking the first maximum in row-major window
order, backward routing or spreading ``dy`` to the window; only the (N, C) dimensions are
vectorised. Inputs are small integers, so MAX meets many exact ties. Threads off and on.
"""
import math

import numpy as np
import pytest

from grid_support import assert_close, f64, run_layer, threads  # noqa: F401


def pooled(size, k, s, p):
    out = int(math.ceil((size + 2 * p - k) / s)) + 1
    if p and (out - 1) * s >= size + p:
        out -= 1
    return out


def pool_reference(x, dy, method, k, s, p):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    oh, ow = pooled(h, kh, sh, ph), pooled(w, kw, sw, pw)
    y, mask = np.zeros((n, c, oh, ow)), np.zeros((n, c, oh, ow))
    dx = np.zeros_like(x)
    ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * sh - ph, j * sw - pw
            he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)
            size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            if he <= hs or we <= ws:
                # Ceil mode, kernel < stride, no pad: a window wholly past the image. Caffe's
                # MAX gives -FLT_MAX and mask -1 (its backward then writes out of bounds:
                # nothing is expected here), AVE 0 / pool_size (0 or negative: NaN or -0).
                with np.errstate(invalid="ignore"):
                    empty = -np.finfo(np.float32).max if method == "MAX" else np.divide(0.0, size)
                y[:, :, i, j] = empty
                mask[:, :, i, j] = -1
                continue
            win = x[:, :, hs:he, ws:we].reshape(n, c, -1)
            if method == "MAX":
                first = win.argmax(axis=-1)  # numpy: the first maximum, as Caffe's strict '>'
                r, q = hs + first // (we - ws), ws + first % (we - ws)
                y[:, :, i, j] = win.max(axis=-1)
                mask[:, :, i, j] = r * w + q
                dx[ni, ci, r, q] += dy[:, :, i, j]
            else:
                y[:, :, i, j] = win.sum(axis=-1) / size
                dx[:, :, hs:he, ws:we] += dy[:, :, i, j, None, None] / size
    return y, mask, dx


# (shape, kernel, stride, pad): all run MAX and AVE
GRID = [
    ((1, 2, 112, 112), 3, 2, 0),   # ResNet / GoogLeNet pool1: ceil-mode windows clipped
    ((1, 2, 111, 111), 3, 2, 0),
    ((1, 1, 147, 147), 3, 2, 0),   # Inception-v3 (299 input)
    ((1, 1, 224, 224), 2, 2, 0),   # VGG pool1
    ((1, 2, 55, 55), 3, 2, 0),     # AlexNet pool1
    ((3, 2, 27, 27), 3, 2, 0),     # AlexNet pool2, batch 3
    ((4, 3, 13, 13), 3, 2, 0),     # AlexNet pool5, batch 4
    ((1, 2, 56, 56), 3, 2, 1),     # padded, ceil
    ((2, 4, 28, 28), 3, 1, 1),     # inception pool projection
    ((1, 4, 14, 14), 5, 3, 0),     # GoogLeNet aux heads
    ((1, 2, 7, 7), 7, 1, 0),       # ResNet final pool
    ((1, 2, 57, 56), 5, 4, 2),     # stride 4, pad 2, odd and even
    ((1, 2, 56, 55), 7, 2, 3),     # kernel 7, pad 3
    ((1, 1, 227, 227), 11, 4, 0),  # kernel 11, stride 4
    ((2, 2, 9, 8), 1, 2, 0),       # kernel 1 < stride: the last column's windows are empty
    ((3, 2, 12, 11), 2, 4, 0),     # kernel 2 < stride 4: empty last windows both ways
    ((3, 2, 8, 8), 3, 2, 1),       # last window clipped by ceil and pad
    ((2, 2, 5, 5), 2, 2, 1),       # last window would start in the padding: dropped
    ((1, 512, 14, 14), 2, 2, 0),   # VGG pool4: many channels, exact 2x2 tiling
    ((1, 256, 13, 13), 3, 2, 0),   # many channels, clipped windows
]


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("shape,k,s,p", GRID)
def test_pooling_grid(shape, k, s, p, method, threads):
    x = np.random.default_rng(sum(shape) + k).integers(-4, 5, shape).astype(np.float32)
    num_top = 2 if method == "MAX" else 1
    text = f"type: 'Pooling' pooling_param {{ pool: {method} kernel_size: {k} stride: {s} pad: {p} }}"
    layer, bottom, top, dys = run_layer(text, [x], num_top=num_top, propagate=[True], seed=k)
    y, mask, dx = pool_reference(f64(x), dys[0], method, (k, k), (s, s), (p, p))
    what = f"{method} pool {shape} k{k} s{s} p{p} threads {threads}"
    assert_close(top[0].data, y, what + " forward", rtol=1e-6)
    assert_close(bottom[0].diff, dx, what + " backward")
    if method == "MAX":
        np.testing.assert_array_equal(top[1].data, mask, err_msg=what + " mask")


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("shape", [(1, 512, 7, 7), (2, 256, 13, 13), (1, 2, 112, 111), (3, 8, 1, 1)])
def test_global_pooling_grid(shape, method, threads):
    x = np.random.default_rng(shape[1]).integers(-4, 5, shape).astype(np.float32)
    text = f"type: 'Pooling' pooling_param {{ pool: {method} global_pooling: true }}"
    layer, bottom, top, (dy,) = run_layer(text, [x], propagate=[True])
    y, _, dx = pool_reference(f64(x), dy, method, shape[2:], (1, 1), (0, 0))
    what = f"global {method} pool {shape} threads {threads}"
    assert_close(top[0].data, y, what + " forward", rtol=1e-6)
    assert_close(bottom[0].diff, dx, what + " backward")
