"""ArgMax: indices (and optionally values) of the ``top_k`` largest entries.

Without ``axis``: each sample ``n`` is flattened to ``D = count / num`` values and
``top`` has shape ``(num, 1, top_k)`` -- or ``(num, 2, top_k)`` with ``out_max_val``, row 0
the indices and row 1 the values. With ``axis``: the top has the bottom's shape with that
axis replaced by ``top_k``, holding indices, or the values themselves with
``out_max_val``. Order: largest value first; among equal values the higher index first
(Caffe sorts (value, index) pairs with ``std::greater``). Indices are stored as floats.
No backward (Caffe does not implement one).

caffe.proto defaults (ArgMaxParameter): ``out_max_val: false``, ``top_k: 1``, ``axis``
unset (per-sample flattening; negative counts from the end when set).
"""
from ..backend import get_array_module
from ._axis import canonical_axis
from .base import Layer, register


@register("ArgMax")
class ArgMaxLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.argmax_param
        self.out_max_val = p.out_max_val
        self.top_k = int(p.top_k)
        self.has_axis = p.HasField("axis")
        shape = bottom[0].shape
        if self.top_k < 1:
            raise self.error(f"top_k must not be less than 1, got {self.top_k}")
        if self.has_axis:
            self.axis = canonical_axis(self, p.axis, shape)
            if self.top_k > shape[self.axis]:
                raise self.error(f"top_k ({self.top_k}) must be less than or equal to the "
                                 f"dimension of axis {self.axis} ({shape[self.axis]})",
                                 bottom0=shape)
        else:
            classes = bottom[0].count_range(1)
            if self.top_k > classes:
                raise self.error(f"top_k ({self.top_k}) must be less than or equal to the "
                                 f"number of classes ({classes})", bottom0=shape)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if self.has_axis:
            out = list(shape)
            out[self.axis] = self.top_k
        else:
            out = [1] * max(len(shape), 3)
            out[0] = shape[0]
            out[2] = self.top_k
            if self.out_max_val:
                out[1] = 2
        top[0].reshape(out)

    def forward(self, bottom, top):
        x = bottom[0].data
        xp = get_array_module(x)
        k = self.top_k
        # Move the searched axis last: rows of candidates.
        rows = xp.moveaxis(x, self.axis, -1) if self.has_axis else x.reshape(x.shape[0], -1)
        dim = rows.shape[-1]
        flat = rows.reshape(-1, dim)
        # Sort by value descending, ties by index descending: sort (-value, -index)
        # ascending, i.e. reverse of an ascending stable sort over the reversed row.
        order = dim - 1 - xp.argsort(-flat[:, ::-1], axis=1, kind="stable")[:, :k]
        values = xp.take_along_axis(flat, order, axis=1)
        if self.has_axis:
            result = values if self.out_max_val else order.astype(x.dtype)
            result = result.reshape(rows.shape[:-1] + (k,))
            top[0].data[...] = xp.moveaxis(result, -1, self.axis)
        else:
            out = top[0].data.reshape(x.shape[0], -1, k)
            out[:, 0, :] = order
            if self.out_max_val:
                out[:, 1, :] = values
