"""InnerProduct (fully connected): y = x W^T + b.

The bottom is viewed as (M, K) with M = product of the axes before ``axis`` and K = the
product of the rest; the top has shape bottom.shape[:axis] + (num_output,).
Weights are (num_output, K), or (K, num_output) with ``transpose: true`` (then y = x W + b);
bias (num_output,). Backward: dW += dy^T x (transpose: x^T dy), db += dy^T 1 (a GEMV with a
ones vector, as Caffe), dx = dy W (transpose: dy W^T).

inner_product_param (caffe.proto defaults): num_output (required, > 0); bias_term true;
weight_filler constant 0; bias_filler constant 0; axis 1; transpose false.
"""
from ..backend import xp
from ._workspace import Workspace
from .base import Layer, register


@register("InnerProduct")
class InnerProductLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.inner_product_param
        shape = bottom[0].shape
        n = len(shape)
        if not -n <= p.axis < max(n, 1):
            raise self.error(f"axis {p.axis} out of range", bottom0=shape)
        self.axis = p.axis + n if p.axis < 0 else p.axis
        self.num_output = int(p.num_output)
        if self.num_output <= 0:
            raise self.error("num_output must be > 0")
        self.bias_term = bool(p.bias_term)
        self.transpose = bool(p.transpose)
        self.k = bottom[0].count_range(self.axis)
        if not self.blobs:
            wshape = (self.k, self.num_output) if self.transpose else (self.num_output, self.k)
            self.blobs.append(self.new_param(wshape, p.weight_filler))
            if self.bias_term:
                self.blobs.append(self.new_param((self.num_output,), p.bias_filler))
        self.ws = Workspace()

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) < self.axis or bottom[0].count_range(self.axis) != self.k:
            raise self.error(
                f"input size incompatible with inner product parameters: expected {self.k} "
                f"values per item from axis {self.axis}", bottom0=shape)
        top[0].reshape(shape[: self.axis] + (self.num_output,))

    def _weight_nk(self, w):
        """The weight as an (N, K) matrix view."""
        return w.T if self.transpose else w

    def forward(self, bottom, top):
        x = bottom[0].data.reshape(-1, self.k)
        y = top[0].data.reshape(-1, self.num_output)
        xp.matmul(x, self._weight_nk(self.blobs[0].data).T, out=y)
        if self.bias_term:
            y += self.blobs[1].data

    def backward(self, top, propagate_down, bottom):
        x = bottom[0].data.reshape(-1, self.k)
        dy = top[0].diff.reshape(-1, self.num_output)
        wblob = self.blobs[0]
        # dW (N, K) = dy^T x, computed into scratch then accumulated (Caffe's beta = 1).
        dw = self.ws.get("dw", wblob.diff.shape, dy.dtype)
        if self.transpose:
            xp.matmul(x.T, dy, out=dw)
        else:
            xp.matmul(dy.T, x, out=dw)
        wblob.diff += dw
        if self.bias_term:
            ones = self.ws.get("ones", (dy.shape[0],), dy.dtype)
            ones.fill(1)
            self.blobs[1].diff += ones @ dy
        if propagate_down[0]:
            dx = bottom[0].diff.reshape(-1, self.k)
            xp.matmul(dy, self._weight_nk(wblob.data), out=dx)
