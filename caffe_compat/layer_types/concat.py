"""Concat: join bottoms along one axis.

``top = [bottom_0, bottom_1, ...]`` along ``concat_axis``; every other axis must agree.
Backward hands each bottom its slice of ``top.diff``.

caffe.proto defaults (ConcatParameter): ``axis: 1`` (negative counts from the end);
the legacy ``concat_dim`` (uint32, default 1) is used when set, and may not be given
together with ``axis``.
"""
from ..backend import get_array_module
from ._axis import axis_or_legacy, axis_parts, check_axis_or_legacy
from .base import Layer, register


@register("Concat")
class ConcatLayer(Layer):
    MIN_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        check_axis_or_legacy(self, self.layer_param.concat_param, "concat_dim")

    def reshape(self, bottom, top):
        self.axis = axis = axis_or_legacy(self, self.layer_param.concat_param, "concat_dim",
                                          bottom[0].shape)
        first = bottom[0].shape
        out = list(first)
        for i, b in enumerate(bottom[1:], start=1):
            same_rest = (b.num_axes == len(first) and
                         all(b.shape[j] == first[j] for j in range(len(first)) if j != axis))
            if not same_rest:
                raise self.error(
                    f"all inputs must have the same shape except at concat axis {axis}",
                    bottom0=first, **{f"bottom{i}": b.shape})
            out[axis] += b.shape[axis]
        top[0].reshape(out)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        top[0].data[...] = xp.concatenate([b.data for b in bottom], axis=self.axis)

    def backward(self, top, propagate_down, bottom):
        sizes = [b.shape[self.axis] for b in bottom]
        parts = axis_parts(sizes, self.axis, top[0].num_axes)
        for i, (b, index) in enumerate(zip(bottom, parts)):
            if propagate_down[i]:
                b.diff[...] = top[0].diff[index]
