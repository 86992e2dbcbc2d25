"""Bias: add a learned (or second-bottom) bias, broadcast over the other axes.

``top = bottom[0] + b``, with ``b`` of shape ``bottom[0].shape[axis : axis + num_axes]``
broadcast along the outer axes (before ``axis``) and the inner ones (after). ``b`` is the
parameter blob 0 (one bottom) or ``bottom[1]`` (two bottoms; its shape sets the axes, and
``num_axes`` is ignored). A 0-axis (scalar) ``b`` is added everywhere.

Backward: ``d bottom[0] = d top``; ``d b = sum of d top over the outer and inner axes``
(accumulated into the parameter diff, written into ``bottom[1].diff``).

caffe.proto defaults (BiasParameter): ``axis: 1`` (negative counts from the end),
``num_axes: 1`` (-1 = all axes from ``axis`` on), ``filler`` constant 0.
"""
from ..backend import get_array_module
from ..blob import Blob
from ..fillers import fill
from ._axis import canonical_axis
from .base import Layer, register


def param_shape(layer, axis, num_axes, shape):
    """Shape of a learned scale/bias: ``shape[axis : axis + num_axes]`` (-1: to the end)."""
    axis = canonical_axis(layer, axis, shape)
    if num_axes < -1:
        raise layer.error(f"num_axes must be non-negative, or -1 to extend to the end, "
                          f"got {num_axes}")
    if num_axes >= 0 and axis + num_axes > len(shape):
        raise layer.error(f"a parameter of {num_axes} axes starting at axis {axis} extends "
                          "past the bottom's shape", bottom0=shape)
    return shape[axis:] if num_axes == -1 else shape[axis:axis + num_axes]


def broadcast_dims(layer, axis, shape, operand_shape, what):
    """(outer, dim, inner) for applying ``operand_shape`` to ``shape`` at ``axis``."""
    axis = 0 if len(operand_shape) == 0 else canonical_axis(layer, axis, shape)
    span = shape[axis:axis + len(operand_shape)]
    if tuple(span) != tuple(operand_shape):
        raise layer.error(f"{what} shape does not match the bottom's axes "
                          f"{axis}..{axis + len(operand_shape) - 1}",
                          bottom0=shape, **{what: operand_shape})
    outer = 1
    for d in shape[:axis]:
        outer *= d
    dim = 1
    for d in operand_shape:
        dim *= d
    inner = 1
    for d in shape[axis + len(operand_shape):]:
        inner *= d
    return outer, dim, inner


def sum_outer_inner(arr, dims):
    """Sum an array viewed as (outer, dim, inner) over outer and inner: shape (dim,).

    Two GEMVs with vectors of ones, as Caffe sums (numpy's sum over two non-adjacent axes
    is several times slower)."""
    outer, dim, inner = dims
    xp = get_array_module(arr)
    per_row = arr.reshape(outer * dim, inner) @ xp.ones(inner, dtype=arr.dtype)
    return xp.ones(outer, dtype=arr.dtype) @ per_row.reshape(outer, dim)


@register("Bias")
class BiasLayer(Layer):
    MIN_BOTTOM = 1
    MAX_BOTTOM = 2
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.bias_param
        if len(bottom) == 1 and not self.blobs:
            shape = param_shape(self, p.axis, p.num_axes, bottom[0].shape)
            b = Blob(shape)
            b.data[...] = fill(p.filler, shape)
            self.blobs = [b]

    def _bias(self, bottom):
        return bottom[1] if len(bottom) > 1 else self.blobs[0]

    def reshape(self, bottom, top):
        bias = self._bias(bottom)
        self.dims = broadcast_dims(self, self.layer_param.bias_param.axis, bottom[0].shape,
                                   bias.shape, "bias")
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        x = bottom[0].data
        b = self._bias(bottom).data.astype(x.dtype, copy=False)
        out = x.reshape(self.dims) + b.reshape(1, -1, 1)
        top[0].data[...] = out.reshape(x.shape)

    def backward(self, top, propagate_down, bottom):
        tdiff = top[0].diff
        if len(bottom) > 1:
            if propagate_down[1]:
                bottom[1].diff[...] = sum_outer_inner(tdiff, self.dims).reshape(bottom[1].shape)
        else:
            p = self.blobs[0]
            p.diff += sum_outer_inner(tdiff, self.dims).reshape(p.shape).astype(p.diff.dtype)
        if propagate_down[0] and bottom[0] is not top[0]:
            bottom[0].diff[...] = tdiff
