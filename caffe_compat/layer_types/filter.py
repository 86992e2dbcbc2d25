"""Filter: keep the items (first-axis entries) whose selector value is non-zero.

Bottoms: K data blobs and, last, the selector (shape (N,) or (N, 1, ...): every axis but the
first of size 1); tops: K blobs, top k = bottom k's selected items in order. Every data bottom
needs the selector's first axis. The first reshape (at setup) gives the tops all N items, as
Caffe's; every later one the selected count, so the top shapes follow the selector's values.
A top's diff keeps its leading values when the selection shrinks (Caffe reuses the memory),
so a ``loss_weight`` on a Filter top weighs every selected item.
Backward: a data bottom's diff is the top diff at the selected items and 0 elsewhere; the
selector takes no gradient (Caffe aborts if asked). No parameters.
"""
from ..backend import get_array_module
from ..errors import NetError
from .base import Layer, register


@register("Filter")
class FilterLayer(Layer):
    MIN_BOTTOM = 2
    MIN_TOP = 1

    def allow_force_backward(self, bottom_index):
        """Every bottom but the selector (the last one the prototxt names)."""
        return bottom_index != len(self.layer_param.bottom) - 1

    def setup(self, bottom, top):
        if len(top) != len(bottom) - 1:
            raise self.error(f"needs one top per data bottom: {len(bottom) - 1} data bottom(s) "
                             f"and a selector, got {len(top)} top(s)")
        self.first_reshape = True

    def reshape(self, bottom, top):
        xp = get_array_module(bottom[-1].data)
        sel = bottom[-1]
        if not sel.shape:
            raise self.error("the selector needs a first axis", selector=sel.shape)
        if any(d != 1 for d in sel.shape[1:]):
            raise self.error("selector blob dimensions must be singletons (1), except the "
                             "first", selector=sel.shape)
        for i, b in enumerate(bottom[:-1]):
            if not b.shape or b.shape[0] != sel.shape[0]:
                raise self.error("each bottom should have the same 0th dimension as the "
                                 "selector blob", **{f"bottom{i}": b.shape, "selector": sel.shape})
        self.indices = xp.flatnonzero(sel.data.reshape(-1))
        n = len(self.indices)
        if self.first_reshape:
            n = bottom[0].shape[0]
            self.first_reshape = False
        for t, b in zip(top, bottom):
            shape = (n,) + b.shape[1:]
            if t.shape == shape:
                continue
            # Caffe's Reshape keeps the memory while the count fits, so a diff set once (the
            # loss_weight a Filter top may carry) survives the selection changing size.
            old = t.diff.reshape(-1) if t.diff_allocated else None
            t.reshape(shape)
            if old is not None and old.size >= t.count:
                t.diff[...] = old[:t.count].reshape(shape)

    def forward(self, bottom, top):
        if top[0].shape[0] != len(self.indices):  # still the first reshape's shape
            self.reshape(bottom, top)
        for t, b in zip(top, bottom):
            t.data[...] = b.data[self.indices]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[len(bottom) - 1]:
            raise NetError(f"Layer '{self.name}' (Filter) cannot back-propagate to its "
                           "selector (filter index) input")
        for i, t in enumerate(top):
            if propagate_down[i]:
                dx = bottom[i].diff
                dx[...] = 0
                dx[self.indices] = t.diff
