"""BatchReindex: gather first-axis items of bottom[0] by the indices in bottom[1].

    top[k] = bottom0[int(index[k])]    (index: 1 axis, float values truncated to int)

The top has bottom[1]'s length along the first axis and bottom[0]'s other axes. Every
index must lie in [0, N) (checked in forward, as in Caffe). Backward: bottom[0]'s diff is
zero except the sum of the top diffs of the items that picked each index; the index bottom
takes no gradient (Caffe aborts if asked). No parameters.
"""
from ..backend import get_array_module
from ..errors import NetError
from .base import Layer, register


@register("BatchReindex")
class BatchReindexLayer(Layer):
    EXACT_NUM_BOTTOM = 2
    EXACT_NUM_TOP = 1

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0

    def reshape(self, bottom, top):
        if bottom[1].num_axes != 1:
            raise self.error("the index bottom must have exactly 1 axis", bottom1=bottom[1].shape)
        if bottom[0].num_axes < 1:
            raise self.error("bottom[0] needs a first axis to index", bottom0=bottom[0].shape)
        top[0].reshape((bottom[1].shape[0],) + bottom[0].shape[1:])

    def _index(self, bottom):
        xp = get_array_module(bottom[1].data)
        idx = bottom[1].data.astype(xp.int64)  # static_cast<int>: truncation toward zero
        n = bottom[0].shape[0]
        bad = (bottom[1].data < 0) | (idx >= n)
        if bad.any():
            raise NetError(f"Layer '{self.name}' (BatchReindex): index "
                           f"{float(bottom[1].data[bad][0])} is negative or not below the "
                           f"batch size {n}")
        return idx

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data[self._index(bottom)]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[1]:
            raise NetError(f"Layer '{self.name}' (BatchReindex) cannot back-propagate to its "
                           "index input")
        if not propagate_down[0]:
            return
        xp = get_array_module(top[0].diff)
        dx = bottom[0].diff
        dx[...] = 0
        xp.add.at(dx, self._index(bottom), top[0].diff)
