"""Flatten: merge the axes ``axis .. end_axis`` into one.

``top.shape = shape[:axis] + (prod(shape[axis:end_axis+1]),) + shape[end_axis+1:]``; the
values (and, backward, the diffs) are unchanged in row-major order. Caffe shares the
memory of bottom and top; here they are copies, which gives the same numbers.

caffe.proto defaults (FlattenParameter): ``axis: 1``, ``end_axis: -1`` (negative axes
count from the end). Not in-place.
"""
from ._axis import canonical_axis
from .base import Layer, register


@register("Flatten")
class FlattenLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def reshape(self, bottom, top):
        if bottom[0] is top[0]:
            raise self.error("Flatten does not allow in-place computation")
        p = self.layer_param.flatten_param
        shape = bottom[0].shape
        start = canonical_axis(self, p.axis, shape)
        end = canonical_axis(self, p.end_axis, shape, "end_axis")
        if end < start:
            raise self.error(f"end_axis ({p.end_axis}) comes before axis ({p.axis})",
                             bottom0=shape)
        merged = bottom[0].count_range(start, end + 1)
        top[0].reshape(shape[:start] + (merged,) + shape[end + 1:])

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data.reshape(top[0].shape)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff.reshape(bottom[0].shape)
