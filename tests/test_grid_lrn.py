"""LRN (across and within channels) on a grid of real nets' shapes against the definition.

ACROSS_CHANNELS: ``scale[c] = k + alpha/n * sum of x[c']^2 over the n channels centred on c``
(clipped at the ends), ``y = x * scale^-beta``. WITHIN_CHANNEL (Caffe's Power -> AVE pool
-> Power chain): ``scale = 1 + alpha * (sum of x^2 over the n x n window, zero padded by
(n-1)/2) / pool_size``, ``y = x * scale^-beta``. Backward is the chain rule through those
sums, written as loops over channels (across) or windows (within); only the remaining
dimensions are vectorised. Threads off and on.
"""
import numpy as np
import pytest

from grid_support import assert_close, f64, run_layer, threads, uniform  # noqa: F401


def lrn_across_reference(x, dy, size, alpha, beta, k):
    n, c, h, w = x.shape
    pre = (size - 1) // 2
    window = [range(max(0, ch - pre), min(c, ch - pre + size)) for ch in range(c)]
    scale = np.empty_like(x)
    for ch in range(c):
        scale[:, ch] = k + alpha / size * sum(x[:, j] ** 2 for j in window[ch])
    y = x * scale ** -beta
    dx = dy * scale ** -beta
    for ch in range(c):  # d y[ch] / d x[j] for every j in ch's window
        common = dy[:, ch] * x[:, ch] * -beta * scale[:, ch] ** (-beta - 1) * alpha / size
        for j in window[ch]:
            dx[:, j] += common * 2 * x[:, j]
    return y, dx


def lrn_within_reference(x, dy, size, alpha, beta):
    n, c, h, w = x.shape
    pad = (size - 1) // 2
    scale, pool_size, span = np.empty_like(x), {}, {}
    for i in range(h):
        for j in range(w):
            hs, ws = i - pad, j - pad
            he, we = min(hs + size, h + pad), min(ws + size, w + pad)
            pool_size[i, j] = (he - hs) * (we - ws)
            span[i, j] = (slice(max(hs, 0), min(he, h)), slice(max(ws, 0), min(we, w)))
            rows, cols = span[i, j]
            total = (x[:, :, rows, cols] ** 2).sum(axis=(2, 3))
            scale[:, :, i, j] = 1 + alpha * total / pool_size[i, j]
    y = x * scale ** -beta
    dx = dy * scale ** -beta
    for (i, j), (rows, cols) in span.items():
        common = dy[:, :, i, j] * x[:, :, i, j] * -beta * scale[:, :, i, j] ** (-beta - 1)
        common = common * alpha / pool_size[i, j]
        dx[:, :, rows, cols] += common[:, :, None, None] * 2 * x[:, :, rows, cols]
    return y, dx


# (shape, local_size, alpha, beta, k, input range)
ACROSS = [
    ((1, 96, 55, 55), 5, 1e-4, 0.75, 1.0, 60),   # AlexNet / CaffeNet norm1
    ((2, 256, 13, 13), 5, 1e-4, 0.75, 1.0, 60),  # norm2 at pool5's size, batch 2
    ((1, 64, 56, 56), 5, 1e-4, 0.75, 1.0, 60),   # GoogLeNet pool1/norm1
    ((3, 8, 28, 27), 3, 0.5, 0.75, 2.0, 2),      # strong normalisation, odd and even
    ((2, 3, 7, 7), 5, 1.0, 0.5, 1.0, 2),         # fewer channels than the window
    ((4, 6, 5, 5), 1, 0.3, 0.9, 1.5, 2),
]
WITHIN = [
    ((1, 2, 55, 55), 5, 1e-2, 0.75, 3),
    ((2, 3, 27, 28), 3, 0.5, 0.75, 2),
    ((3, 2, 13, 13), 5, 1.0, 0.6, 2),
    ((1, 4, 7, 7), 7, 0.2, 0.75, 2),
]


@pytest.mark.parametrize("shape,size,alpha,beta,k,spread", ACROSS)
def test_lrn_across_grid(shape, size, alpha, beta, k, spread, threads):
    x = uniform(shape, size + shape[1], -spread, spread)
    text = f"type: 'LRN' lrn_param {{ local_size: {size} alpha: {alpha} beta: {beta} k: {k} }}"
    layer, bottom, top, (dy,) = run_layer(text, [x])
    y, dx = lrn_across_reference(f64(x), dy, size, alpha, beta, k)
    what = f"LRN across {shape} n{size} threads {threads}"
    assert_close(top[0].data, y, what + " forward")
    assert_close(bottom[0].diff, dx, what + " backward")


@pytest.mark.parametrize("shape,size,alpha,beta,spread", WITHIN)
def test_lrn_within_grid(shape, size, alpha, beta, spread, threads):
    x = uniform(shape, size + shape[2], -spread, spread)
    text = (f"type: 'LRN' lrn_param {{ local_size: {size} alpha: {alpha} beta: {beta} "
            f"norm_region: WITHIN_CHANNEL }}")
    layer, bottom, top, (dy,) = run_layer(text, [x])
    y, dx = lrn_within_reference(f64(x), dy, size, alpha, beta)
    what = f"LRN within {shape} n{size} threads {threads}"
    assert_close(top[0].data, y, what + " forward")
    assert_close(bottom[0].diff, dx, what + " backward")
