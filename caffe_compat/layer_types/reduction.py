"""Reduction: reduce every axis from ``axis`` on to one number, scaled by ``coeff``.

With the bottom viewed as (num, dim), num = count of the axes before ``axis``:

    SUM:   y = coeff * sum(x)            dx = coeff * dy
    ASUM:  y = coeff * sum(|x|)          dx = coeff * dy * sign(x)   (sign(0) = 0)
    SUMSQ: y = coeff * sum(x^2)          dx = 2 * coeff * dy * x
    MEAN:  y = coeff / dim * sum(x)      dx = coeff / dim * dy

The top's shape is the bottom's axes before ``axis`` (a 0-axis scalar for axis 0).
reduction_param (caffe.proto): ``operation`` SUM, ``axis`` 0 (negative counts from the end),
``coeff`` 1.
"""
from ..backend import get_array_module
from ._axis import canonical_axis
from .base import Layer, register

SUM, ASUM, SUMSQ, MEAN = 1, 2, 3, 4  # ReductionParameter.ReductionOp


@register("Reduction")
class ReductionLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        self.op = int(self.layer_param.reduction_param.operation)
        if self.op not in (SUM, ASUM, SUMSQ, MEAN):
            raise self.error(f"unknown reduction operation {self.op}")

    def reshape(self, bottom, top):
        p = self.layer_param.reduction_param
        shape = bottom[0].shape
        axis = canonical_axis(self, p.axis, shape)
        top[0].reshape(shape[:axis])
        self.num = top[0].count
        self.dim = bottom[0].count // self.num if self.num else 0
        coeff = bottom[0].data.dtype.type(p.coeff)
        self.coeff = coeff / coeff.dtype.type(self.dim) if self.op == MEAN else coeff

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data.reshape(self.num, self.dim)
        if self.op in (SUM, MEAN):
            y = x.sum(axis=1)
        elif self.op == ASUM:
            y = xp.abs(x).sum(axis=1)
        else:
            y = xp.einsum("ij,ij->i", x, x)
        if self.coeff != 1:
            y = y * self.coeff
        top[0].data[...] = y.reshape(top[0].shape)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        xp = get_array_module(bottom[0].data)
        g = (top[0].diff.reshape(self.num, 1) * self.coeff)
        dx = bottom[0].diff.reshape(self.num, self.dim)
        if self.op in (SUM, MEAN):
            dx[...] = g
        elif self.op == ASUM:
            dx[...] = xp.sign(bottom[0].data.reshape(self.num, self.dim)) * g
        else:
            dx[...] = bottom[0].data.reshape(self.num, self.dim) * (2 * g)
