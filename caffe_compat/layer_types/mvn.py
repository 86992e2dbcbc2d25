"""MVN: mean-variance normalization per sample and channel (or per sample).

The bottom (at most 4 axes, Caffe's num/channels/height/width; the top always has those
4 axes, missing ones of size 1, as Caffe reshapes it) is viewed as rows: one per
(n, c) (``across_channels: false``) or one per n (true). Per row of ``dim`` values:

    y = x - mean(x);  with normalize_variance:  y = y / (sqrt(mean(y^2)) + eps)

mvn_param (caffe.proto): normalize_variance true, across_channels false, eps 1e-9 (added to
the standard deviation, not to the variance).
Backward (Caffe's): without variance: dx = dy - mean(dy); with it:
dx = (dy - (sum(dy) + y * sum(y * dy)) / dim) / (sqrt(var) + eps), the exact gradient
for eps = 0 (Caffe's formula leaves eps out of the term through the standard deviation).
"""
from ..backend import get_array_module
from .base import Layer, register


@register("MVN")
class MVNLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) > 4:
            raise self.error("MVN takes a bottom of at most 4 axes (num, channels, height, "
                             "width)", bottom0=shape)
        p = self.layer_param.mvn_param
        self.normalize_variance = bool(p.normalize_variance)
        self.eps = float(p.eps)
        n = shape[0] if shape else 1
        c = shape[1] if len(shape) > 1 else 1
        self.rows = n if p.across_channels else n * c
        self.dim = bottom[0].count // self.rows if self.rows else 0
        legacy = tuple(shape) + (1,) * (4 - len(shape))
        if top[0] is bottom[0]:
            bottom[0].data = bottom[0].data.reshape(legacy)  # keep the values (in place)
        else:
            top[0].reshape(legacy)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data.reshape(self.rows, self.dim)
        t = x.dtype.type
        y = x - x.mean(axis=1, keepdims=True)
        if self.normalize_variance:
            self.std = xp.sqrt((y * y).mean(axis=1, keepdims=True)) + t(self.eps)
            y = y / self.std
        top[0].data.reshape(self.rows, self.dim)[...] = y

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = top[0].diff.reshape(self.rows, self.dim)
        t = dy.dtype.type
        if self.normalize_variance:
            y = top[0].data.reshape(self.rows, self.dim)
            inner = dy.sum(axis=1, keepdims=True) + y * (y * dy).sum(axis=1, keepdims=True)
            dx = (dy - inner / t(self.dim)) / self.std
        else:
            dx = dy - dy.mean(axis=1, keepdims=True)
        bottom[0].diff.reshape(self.rows, self.dim)[...] = dx
