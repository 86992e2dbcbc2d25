"""InnerProduct, Softmax and ArgMax on real nets' shapes against plain loops.

InnerProduct: one output unit at a time (``y[:, o] = x . W[o] + b[o]``; ``dW[o] = dy[:, o] x``;
``dx = sum_o dy[:, o] W[o]``). Softmax: one (outer, inner) line at a time. ArgMax: Caffe's
sort of (value, index) pairs, largest first, a tie going to the larger index. Threads off
and forced on.
"""
import numpy as np
import pytest

from grid_support import assert_close, f64, run_layer, threads, uniform  # noqa: F401


def ip_reference(x2, w_nk, b, dy2):
    m, k = x2.shape
    n = w_nk.shape[0]
    y, dw, db, dx = np.zeros((m, n)), np.zeros_like(w_nk), np.zeros(n), np.zeros_like(x2)
    for o in range(n):
        y[:, o] = x2 @ w_nk[o] + (b[o] if b is not None else 0)
        dw[o] = dy2[:, o] @ x2
        db[o] = dy2[:, o].sum()
        dx += dy2[:, o, None] * w_nk[o]
    return y, dx, dw, db


# (shape, num_output, axis, transpose, bias)
IP_GRID = [
    ((2, 256, 6, 6), 64, 1, False, True),    # AlexNet fc6 (narrowed)
    ((1, 512, 7, 7), 10, 1, False, True),    # VGG fc6 (narrowed)
    ((10, 4096), 100, 1, True, True),        # transposed weights
    ((3, 1024), 1000, 1, False, False),      # GoogLeNet classifier, no bias
    ((2, 3, 5, 4), 7, 2, False, True),       # axis 2
    ((4, 1, 1, 1), 3, 1, False, True),
]


@pytest.mark.parametrize("shape,num,axis,transpose,bias", IP_GRID)
def test_inner_product_grid(shape, num, axis, transpose, bias, threads):
    k = int(np.prod(shape[axis:]))
    x = uniform(shape, num)
    w = uniform((k, num) if transpose else (num, k), 2, -0.1, 0.1)
    params = [w] + ([uniform((num,), 3)] if bias else [])
    text = (f"type: 'InnerProduct' inner_product_param {{ num_output: {num} axis: {axis} "
            f"transpose: {str(transpose).lower()} bias_term: {str(bias).lower()} }}")
    layer, bottom, top, (dy,) = run_layer(text, [x], params=params)
    w_nk = f64(w).T if transpose else f64(w)
    y, dx, dw, db = ip_reference(f64(x).reshape(-1, k), w_nk, f64(params[1]) if bias else None,
                                 dy.reshape(-1, num))
    what = f"InnerProduct {shape} -> {num} axis {axis} transpose {transpose} threads {threads}"
    assert_close(top[0].data, y.reshape(shape[:axis] + (num,)), what + " forward")
    assert_close(bottom[0].diff, dx.reshape(shape), what + " dx")
    assert_close(layer.blobs[0].diff, dw.T if transpose else dw, what + " dW")
    if bias:
        assert_close(layer.blobs[1].diff, db, what + " db")


def lines(shape, axis):
    """(outer, inner) index pairs and the view shape (outer, C, inner) for ``axis``."""
    outer, inner = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1:]))
    return [(o, i) for o in range(outer) for i in range(inner)], (outer, shape[axis], inner)


@pytest.mark.parametrize("shape,axis", [((2, 1000), 1), ((1, 21, 28, 28), 1), ((2, 3, 4, 5), 2),
                                        ((3, 4, 6), -1), ((7, 5, 1, 1), 1)])
def test_softmax_grid(shape, axis, threads):
    x = uniform(shape, 4, -8, 8)
    layer, bottom, top, (dy,) = run_layer(f"type: 'Softmax' softmax_param {{ axis: {axis} }}", [x])
    ax = axis % len(shape)
    pairs, view = lines(shape, ax)
    x3, dy3 = f64(x).reshape(view), dy.reshape(view)
    y3, dx3 = np.zeros(view), np.zeros(view)
    for o, i in pairs:
        e = np.exp(x3[o, :, i] - x3[o, :, i].max())
        y3[o, :, i] = e / e.sum()
        dx3[o, :, i] = y3[o, :, i] * (dy3[o, :, i] - (dy3[o, :, i] * y3[o, :, i]).sum())
    what = f"Softmax {shape} axis {axis} threads {threads}"
    assert_close(top[0].data, y3.reshape(shape), what + " forward")
    assert_close(bottom[0].diff, dx3.reshape(shape), what + " backward")


def caffe_top_k(values, k):
    """Caffe's ArgMax order: (value, index) pairs sorted with std::greater."""
    return sorted(range(len(values)), key=lambda i: (values[i], i), reverse=True)[:k]


@pytest.mark.parametrize("shape,top_k,axis,out_max_val", [
    ((2, 1000), 5, None, False), ((2, 1000), 5, None, True), ((3, 10, 4, 4), 1, None, True),
    ((2, 10, 4, 4), 3, 1, False), ((2, 10, 4, 4), 2, 1, True), ((2, 3, 5, 7), 2, -1, False),
    ((4, 21, 7, 7), 1, 1, False),
])
def test_argmax_grid(shape, top_k, axis, out_max_val, threads):
    x = np.random.default_rng(top_k).integers(-5, 6, shape).astype(np.float32)  # many ties
    extra = "" if axis is None else f" axis: {axis}"
    text = (f"type: 'ArgMax' argmax_param {{ top_k: {top_k} out_max_val: "
            f"{str(out_max_val).lower()}{extra} }}")
    layer, bottom, top, _ = run_layer(text, [x], backward=False)
    if axis is None:
        flat = x.reshape(shape[0], -1)
        want = np.zeros((shape[0], 2 if out_max_val else 1, top_k))
        for n in range(shape[0]):
            idx = caffe_top_k(list(flat[n]), top_k)
            want[n, 0] = idx
            if out_max_val:
                want[n, 1] = flat[n, idx]
        want = want.reshape(want.shape + (1,) * (len(shape) - 3))  # Caffe keeps >= 3 axes
    else:
        ax = axis % len(shape)
        pairs, view = lines(shape, ax)
        x3 = x.reshape(view)
        want3 = np.zeros((view[0], top_k, view[2]))
        for o, i in pairs:
            idx = caffe_top_k(list(x3[o, :, i]), top_k)
            want3[o, :, i] = x3[o, idx, i] if out_max_val else idx
        want = want3.reshape(shape[:ax] + (top_k,) + shape[ax + 1:])
    np.testing.assert_array_equal(top[0].data, want, err_msg=f"ArgMax {shape} k{top_k} axis {axis}")
