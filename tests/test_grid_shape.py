"""Concat, Slice, Flatten and Reshape on real nets' shapes against element loops.

Concat / Slice: each (outer index, part) block copied one at a time, as Caffe's loops do.
Flatten / Reshape: the top shape from the rules (``0`` copies, ``-1`` infers; merged axes
multiply) and every value in row-major order; backward the same mapping reversed. Threads
off and forced on.
"""
import numpy as np
import pytest

from grid_support import assert_close, f64, run_layer, threads, uniform  # noqa: F401


def concat_reference(xs, axis):
    outer = int(np.prod(xs[0].shape[:axis]))
    total = sum(x.shape[axis] for x in xs)
    inner = int(np.prod(xs[0].shape[axis + 1:]))
    y = np.zeros((outer, total, inner))
    for o in range(outer):
        start = 0
        for x in xs:
            part = x.reshape(outer, x.shape[axis], inner)
            y[o, start:start + x.shape[axis]] = part[o]
            start += x.shape[axis]
    return y.reshape(xs[0].shape[:axis] + (total,) + xs[0].shape[axis + 1:])


@pytest.mark.parametrize("shapes,axis", [
    ([(2, 64, 28, 28), (2, 128, 28, 28), (2, 32, 28, 28), (2, 32, 28, 28)], 1),  # inception 3a
    ([(1, 256, 14, 14), (1, 32, 14, 14)], 1),                                   # DenseNet
    ([(2, 3, 4, 5), (1, 3, 4, 5)], 0),
    ([(2, 3, 4, 5), (2, 3, 4, 2)], -1),
])
def test_concat_grid(shapes, axis, threads):
    xs = [uniform(s, k) for k, s in enumerate(shapes)]
    layer, bottom, top, (dy,) = run_layer(f"type: 'Concat' concat_param {{ axis: {axis} }}", xs)
    ax = axis % len(shapes[0])
    assert_close(top[0].data, concat_reference([f64(x) for x in xs], ax), "concat forward", rtol=0)
    start = 0
    for b in bottom:  # each bottom's diff is its block of dy
        index = [slice(None)] * dy.ndim
        index[ax] = slice(start, start + b.shape[ax])
        assert_close(b.diff, dy[tuple(index)], "concat backward", rtol=0)
        start += b.shape[ax]


@pytest.mark.parametrize("shape,axis,points,parts", [
    ((2, 96, 28, 28), 1, [32, 64], 3),
    ((6, 3, 4), 0, [], 3),            # equal parts
    ((2, 3, 4, 10), -1, [1, 7], 3),
    ((1, 512, 7, 7), 1, [256], 2),
])
def test_slice_grid(shape, axis, points, parts, threads):
    x = uniform(shape, parts)
    extra = "".join(f" slice_point: {p}" for p in points)
    layer, bottom, top, dys = run_layer(f"type: 'Slice' slice_param {{ axis: {axis}{extra} }}",
                                        [x], num_top=parts)
    ax = axis % len(shape)
    cuts = [0] + (points or [shape[ax] * k // parts for k in range(1, parts)]) + [shape[ax]]
    outer, inner = int(np.prod(shape[:ax])), int(np.prod(shape[ax + 1:]))
    x3 = f64(x).reshape(outer, shape[ax], inner)
    dx3 = np.zeros_like(x3)
    for k, t in enumerate(top):
        want = np.zeros((outer, cuts[k + 1] - cuts[k], inner))
        for o in range(outer):
            want[o] = x3[o, cuts[k]:cuts[k + 1]]
            dx3[o, cuts[k]:cuts[k + 1]] = dys[k].reshape(outer, -1, inner)[o]
        assert_close(t.data, want.reshape(t.shape), f"slice top {k}", rtol=0)
    assert_close(bottom[0].diff, dx3.reshape(shape), "slice backward", rtol=0)


def row_major_copy(values, shape):
    """The values one at a time into a new array of ``shape``, in row-major order."""
    flat_in = values.reshape(-1)
    out = np.zeros(int(np.prod(shape)))
    for i in range(flat_in.size):
        out[i] = flat_in[i]
    return out.reshape(shape)


@pytest.mark.parametrize("shape,params,want_shape", [
    ((2, 256, 6, 6), "", (2, 9216)),
    ((2, 3, 4, 5), "axis: 2", (2, 3, 20)),
    ((2, 3, 4, 5), "axis: 0 end_axis: 1", (6, 4, 5)),
    ((2, 3, 4, 5), "axis: 1 end_axis: -2", (2, 12, 5)),
])
def test_flatten_grid(shape, params, want_shape, threads):
    x = uniform(shape, 5)
    layer, bottom, top, (dy,) = run_layer(f"type: 'Flatten' flatten_param {{ {params} }}", [x])
    assert_close(top[0].data, row_major_copy(f64(x), want_shape), "flatten forward", rtol=0)
    assert_close(bottom[0].diff, row_major_copy(dy, shape), "flatten backward", rtol=0)


def reshape_rule(shape, dims, axis=0, num_axes=-1):
    """Caffe's reshape rule: dims replace axes axis .. axis+num_axes-1; 0 copies, -1 infers."""
    axis = axis if axis >= 0 else len(shape) + axis + 1
    end = len(shape) if num_axes == -1 else axis + num_axes
    new = [shape[axis + i] if d == 0 else d for i, d in enumerate(dims)]
    if -1 in new:
        known = int(np.prod([d for d in new if d != -1])) * int(np.prod(shape[:axis])) * \
            int(np.prod(shape[end:]))
        new[new.index(-1)] = int(np.prod(shape)) // known
    return tuple(shape[:axis]) + tuple(new) + tuple(shape[end:])


@pytest.mark.parametrize("shape,dims,axis,num_axes", [
    ((2, 64, 7, 7), [0, -1], 0, -1),
    ((2, 1024, 1, 1), [0, -1, 1, 1], 0, -1),
    ((2, 3, 4, 5), [-1, 2], 1, 2),
    ((2, 3, 4, 5), [3, 2], 0, 2),
    ((2, 3, 4, 5), [1, -1], -1, 0),
])
def test_reshape_grid(shape, dims, axis, num_axes, threads):
    x = uniform(shape, 6)
    dim_text = " ".join(f"dim: {d}" for d in dims)
    text = (f"type: 'Reshape' reshape_param {{ shape {{ {dim_text} }} axis: {axis} "
            f"num_axes: {num_axes} }}")
    layer, bottom, top, (dy,) = run_layer(text, [x])
    want_shape = reshape_rule(shape, dims, axis, num_axes)
    assert_close(top[0].data, row_major_copy(f64(x), want_shape), "reshape forward", rtol=0)
    assert_close(bottom[0].diff, row_major_copy(dy, shape), "reshape backward", rtol=0)
