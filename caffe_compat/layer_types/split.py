"""Split: copy one bottom to several tops (Caffe's SplitLayer; the Net inserts one wherever a
blob feeds several layers).

Forward: every top shares the bottom's data array (no copy). Backward: the bottom's diff is
the sum of the tops' diffs, ``dL/dx = sum_k dL/dy_k``. No parameters; in-place not allowed.
"""
from .base import Layer, register


@register("Split")
class SplitLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    MIN_TOP = 1

    def reshape(self, bottom, top):
        for t in top:
            if t is bottom[0]:
                raise self.error("Split Layer does not allow in-place computation")
            t.reshape(bottom[0].shape)

    def forward(self, bottom, top):
        for t in top:
            t.data = bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        diff = bottom[0].diff
        diff[...] = top[0].diff
        for t in top[1:]:
            diff += t.diff
