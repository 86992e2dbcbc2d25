"""Reshape: give the bottom's values a new shape without changing their order.

The axes ``axis .. axis+num_axes-1`` of the bottom are replaced by ``shape.dim``: a ``0``
copies the bottom's dimension at that position (counted from ``axis``), a single ``-1``
is inferred so that the count stays the same, other values are taken as given. Backward
copies ``top.diff`` back in the bottom's shape. Caffe shares memory between bottom and
top; here they are copies, with the same numbers.

caffe.proto defaults (ReshapeParameter): ``shape`` (required), ``axis: 0`` (a negative
axis counts from the end, -1 meaning after the last axis), ``num_axes: -1`` (all axes
from ``axis`` on). Not in-place.
"""
from .base import Layer, register


@register("Reshape")
class ReshapeLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        if bottom[0] is top[0]:
            raise self.error("Reshape does not allow in-place computation")
        dims = [int(d) for d in self.layer_param.reshape_param.shape.dim]
        self.dims = dims
        self.copy_axes = [i for i, d in enumerate(dims) if d == 0]
        inferred = [i for i, d in enumerate(dims) if d == -1]
        if len(inferred) > 1:
            raise self.error(f"new shape {dims} contains several -1 dims; at most a single "
                             "-1 may be specified")
        bad = [d for d in dims if d < -1]
        if bad:
            raise self.error(f"new shape {dims} has a negative dimension {bad[0]} "
                             "(only 0 = copy and -1 = infer are special)")
        self.inferred_axis = inferred[0] if inferred else -1
        self.constant_count = 1
        for d in dims:
            if d > 0:
                self.constant_count *= d

    def reshape(self, bottom, top):
        p = self.layer_param.reshape_param
        shape = bottom[0].shape
        n = len(shape)
        start = p.axis if p.axis >= 0 else n + p.axis + 1
        if not 0 <= start <= n:
            raise self.error(f"axis {p.axis} out of range for a {n}-axis bottom", bottom0=shape)
        if p.num_axes < -1:
            raise self.error(f"num_axes must be >= 0, or -1 for all, got {p.num_axes}")
        end = n if p.num_axes == -1 else start + p.num_axes
        if end > n:
            raise self.error(f"axis {p.axis} + num_axes {p.num_axes} go past the bottom's "
                             f"{n} axes", bottom0=shape)
        new = list(self.dims)
        for i in self.copy_axes:
            if start + i >= n:
                raise self.error(f"new shape {self.dims} contains a 0 at position {i}, but "
                                 "there is no corresponding bottom axis to copy",
                                 bottom0=shape)
            new[i] = shape[start + i]
        out = list(shape[:start]) + new + list(shape[end:])
        count = bottom[0].count
        if self.inferred_axis >= 0:
            explicit = 1
            for j, d in enumerate(out):
                if j != start + self.inferred_axis:
                    explicit *= d
            if explicit == 0 or count % explicit:
                raise self.error(f"bottom count ({count}) must be divisible by the product "
                                 f"of the specified dimensions ({explicit}) of new shape "
                                 f"{self.dims}", bottom0=shape)
            out[start + self.inferred_axis] = count // explicit
        total = 1
        for d in out:
            total *= d
        if total != count:
            raise self.error(f"output count must match input count: new shape {self.dims} "
                             f"gives {tuple(out)}", bottom0=shape, top0=out)
        top[0].reshape(out)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data.reshape(top[0].shape)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff.reshape(bottom[0].shape)
