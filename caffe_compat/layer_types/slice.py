"""Slice: cut one bottom into several tops along one axis.

``top_k = bottom[..., p_k : p_{k+1}, ...]`` along ``slice_axis``, with the cut points
``slice_point`` (strictly increasing, one fewer than the tops) or, when none are given,
equal parts (the axis length must divide evenly). Backward writes each top's diff into
its part of ``bottom.diff``.

caffe.proto defaults (SliceParameter): ``axis: 1`` (negative counts from the end),
``slice_point`` empty; the legacy ``slice_dim`` (uint32, default 1) is used when set and
may not be given together with ``axis``.
"""
from ._axis import axis_or_legacy, axis_parts, check_axis_or_legacy
from .base import Layer, register


@register("Slice")
class SliceLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    MIN_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.slice_param
        check_axis_or_legacy(self, p, "slice_dim")
        self.slice_points = [int(s) for s in p.slice_point]

    def _sizes(self, length, num_top, shape):
        points = self.slice_points
        if not points:
            if length % num_top:
                raise self.error(
                    f"number of top blobs ({num_top}) should evenly divide the input slice "
                    f"axis ({length})", bottom0=shape)
            return [length // num_top] * num_top
        if len(points) != num_top - 1:
            raise self.error(f"{len(points)} slice_point(s) need {len(points) + 1} tops, "
                             f"got {num_top}")
        sizes, prev = [], 0
        for p in points:
            if p <= prev:
                raise self.error(f"slice_point values must be positive and strictly "
                                 f"increasing, got {points}")
            sizes.append(p - prev)
            prev = p
        if prev >= length:
            raise self.error(f"slice_point {prev} is not inside the slice axis of length "
                             f"{length}", bottom0=shape)
        sizes.append(length - prev)
        return sizes

    def reshape(self, bottom, top):
        self.axis = axis = axis_or_legacy(self, self.layer_param.slice_param, "slice_dim",
                                          bottom[0].shape)
        shape = bottom[0].shape
        self.sizes = self._sizes(shape[axis], len(top), shape)
        for t, size in zip(top, self.sizes):
            out = list(shape)
            out[axis] = size
            t.reshape(out)

    def _parts(self, ndim):
        return axis_parts(self.sizes, self.axis, ndim)

    def forward(self, bottom, top):
        for t, index in zip(top, self._parts(bottom[0].num_axes)):
            t.data[...] = bottom[0].data[index]

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        for t, index in zip(top, self._parts(bottom[0].num_axes)):
            bottom[0].diff[index] = t.diff
