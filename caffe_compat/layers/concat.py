"""Concat: join bottoms along one axis.

``top = [bottom_0, bottom_1, ...]`` along ``concat_axis``; every other axis must agree.
Backward hands each bottom its slice of ``top.diff``.

caffe.proto defaults (ConcatParameter): ``axis: 1`` (negative counts from the end);
the legacy ``concat_dim`` (uint32, default 1) is used when set, and may not be given
together with ``axis``.
"""
from ..backend import get_array_module
from .base import Layer, register


@register("Concat")
class ConcatLayer(Layer):
    MIN_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.concat_param
        if p.HasField("axis") and p.HasField("concat_dim"):
            raise self.error("either axis or concat_dim should be specified; not both")

    def _axis(self, bottom):
        p = self.layer_param.concat_param
        n = bottom[0].num_axes
        if p.HasField("concat_dim"):
            axis = int(p.concat_dim)
            if axis >= n:
                raise self.error(f"concat_dim {axis} out of range for a {n}-axis bottom",
                                 bottom0=bottom[0].shape)
            return axis
        if not -n <= p.axis < max(n, 1):
            raise self.error(f"axis {p.axis} out of range for a {n}-axis bottom",
                             bottom0=bottom[0].shape)
        return p.axis + n if p.axis < 0 else p.axis

    def reshape(self, bottom, top):
        self.axis = axis = self._axis(bottom)
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
        start = 0
        for i, b in enumerate(bottom):
            size = b.shape[self.axis]
            if propagate_down[i]:
                index = [slice(None)] * b.num_axes
                index[self.axis] = slice(start, start + size)
                b.diff[...] = top[0].diff[tuple(index)]
            start += size
