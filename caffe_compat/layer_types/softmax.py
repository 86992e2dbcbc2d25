"""Softmax along ``axis``: y_c = exp(x_c - max_k x_k) / sum_k exp(x_k - max_k x_k).

Defaults (caffe.proto SoftmaxParameter): axis = 1 (negative counts from the end).
Backward: dx = y * (dy - sum_c(dy_c * y_c)), the sum over the softmax axis.
"""
from ..backend import get_array_module
from .base import Layer, register


def softmax(x, axis):
    """Caffe's numerically stable softmax of ``x`` along ``axis`` (in x's dtype)."""
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_axis(layer, blob):
    axis = layer.layer_param.softmax_param.axis
    try:
        return blob.canonical_axis(axis)
    except IndexError:
        raise layer.error(f"softmax_param.axis {axis} is out of range", bottom0=blob.shape)


@register("Softmax")
class SoftmaxLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def reshape(self, bottom, top):
        self.axis = softmax_axis(self, bottom[0])
        top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = softmax(bottom[0].data, self.axis)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y, dy = top[0].data, top[0].diff
        dot = (dy * y).sum(axis=self.axis, keepdims=True)
        bottom[0].diff[...] = (dy - dot) * y
