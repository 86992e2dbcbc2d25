"""Im2col: the columns a convolution multiplies, as a top (Caffe's Im2colLayer).

For every (outer index, channel c, kernel offset k = (k_1..k_S) in row-major order) and
output position o = (o_1..o_S):

    top[.., c * K + k, o] = xpad[.., c, o_1*s_1 + k_1*d_1, ..., o_S*s_S + k_S*d_S]

with K = prod(kernel), ``xpad`` the input zero-padded by ``pad`` on both sides of every
spatial axis, and output size per axis (in + 2*pad - (d*(k-1)+1)) / s + 1 (integer division).
The axes before ``axis`` (the channel axis) are batch-like; every axis after it is spatial
(any number of them, as Caffe's N-d im2col; the 2-D fast path gives the same numbers).

convolution_param (caffe.proto) fields read: kernel_size (required; once or once per spatial
axis) or kernel_h/kernel_w (2-D only); stride 1, pad 0, dilation 1 (once or once per axis;
stride_h/w and pad_h/w 2-D only); axis 1. num_output, bias and fillers are ignored.
Backward (col2im): each input element's diff is the sum of the top diffs of every column
entry it was copied to.
"""
import itertools
import math

from ._axis import canonical_axis
from ._workspace import Workspace
from .base import Layer, register


def spatial_field(layer, p, name, h_name, w_name, default, n):
    """Caffe's rule for one repeated spatial field and its 2-D _h/_w forms: n values."""
    values = [int(v) for v in getattr(p, name)]
    if p.HasField(h_name) or p.HasField(w_name):
        if n != 2:
            raise layer.error(f"{h_name} & {w_name} can only be used for 2D convolution "
                              f"({n} spatial axes)")
        if values:
            raise layer.error(f"either {name} or {h_name}/{w_name} should be specified; not both")
        return [int(getattr(p, h_name)), int(getattr(p, w_name))]
    if not values:
        if default is None:
            raise layer.error(f"{name} (or {h_name} and {w_name}) is required")
        return [default] * n
    if len(values) not in (1, n):
        raise layer.error(f"{name} must be specified once, or once per spatial dimension "
                          f"({name} specified {len(values)} times; {n} spatial dims)")
    return values * n if len(values) == 1 else values


@register("Im2col")
class Im2colLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.convolution_param
        shape = bottom[0].shape
        self.axis = canonical_axis(self, p.axis, shape)
        n = len(shape) - self.axis - 1
        if n < 1:
            raise self.error(f"needs at least one spatial axis after axis {self.axis}",
                             bottom0=shape)
        self.kernel = spatial_field(self, p, "kernel_size", "kernel_h", "kernel_w", None, n)
        self.stride = spatial_field(self, p, "stride", "stride_h", "stride_w", 1, n)
        self.pad = spatial_field(self, p, "pad", "pad_h", "pad_w", 0, n)
        dil = [int(v) for v in p.dilation]
        if len(dil) not in (0, 1, n):
            raise self.error(f"dilation must be specified once, or once per spatial dimension "
                             f"(dilation specified {len(dil)} times; {n} spatial dims)")
        self.dilation = [1] * n if not dil else dil * n if len(dil) == 1 else dil
        for what, v in (("filter", self.kernel), ("stride", self.stride)):
            if min(v) <= 0:
                raise self.error(f"{what} dimensions must be nonzero, got {v}")
        if min(self.dilation) <= 0:
            raise self.error(f"dilation must be positive, got {self.dilation}")
        self.nspatial = n
        self.ksize = math.prod(self.kernel)
        self.ws = Workspace()

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        a = self.axis
        if len(shape) != a + 1 + self.nspatial:
            raise self.error("bottom num_axes may not change", bottom0=shape)
        out = []
        for i in range(self.nspatial):
            extent = self.dilation[i] * (self.kernel[i] - 1) + 1
            size = shape[a + 1 + i] + 2 * self.pad[i]
            if size < extent:
                raise self.error(f"kernel extent {extent} of spatial axis {i} is larger than the "
                                 f"padded input ({size})", bottom0=shape)
            out.append((size - extent) // self.stride[i] + 1)
        self.out = tuple(out)
        self.outer = bottom[0].count_range(0, a)
        top[0].reshape(shape[:a] + (shape[a] * self.ksize,) + self.out)

    def _windows(self):
        """(kernel offset index, spatial slices into the padded input) for every offset."""
        for j, k in enumerate(itertools.product(*(range(k) for k in self.kernel))):
            yield j, tuple(slice(ki * d, ki * d + s * (o - 1) + 1, s) for ki, d, s, o in
                           zip(k, self.dilation, self.stride, self.out))

    def _padded_shape(self, shape):
        a = self.axis
        return (self.outer, shape[a]) + tuple(
            shape[a + 1 + i] + 2 * p for i, p in enumerate(self.pad))

    def _interior(self, shape):
        a = self.axis
        return (slice(None), slice(None)) + tuple(
            slice(p, p + shape[a + 1 + i]) for i, p in enumerate(self.pad))

    def forward(self, bottom, top):
        x = bottom[0].data
        shape = x.shape
        # Only the interior is written: the border stays as allocated (zeros).
        padded = self.ws.get("padded", self._padded_shape(shape), x.dtype)
        padded[self._interior(shape)] = x.reshape(padded[self._interior(shape)].shape)
        col = top[0].data.reshape((self.outer, shape[self.axis], self.ksize) + self.out)
        for j, window in self._windows():
            col[:, :, j] = padded[(slice(None), slice(None)) + window]

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        shape = bottom[0].shape
        dpad = self.ws.get("dpad", self._padded_shape(shape), top[0].diff.dtype, zero=True)
        col = top[0].diff.reshape((self.outer, shape[self.axis], self.ksize) + self.out)
        for j, window in self._windows():
            dpad[(slice(None), slice(None)) + window] += col[:, :, j]
        bottom[0].diff[...] = dpad[self._interior(shape)].reshape(shape)
