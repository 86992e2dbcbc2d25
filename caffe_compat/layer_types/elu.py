"""ELU: y = max(x, 0) + alpha * (exp(min(x, 0)) - 1).

Defaults (caffe.proto ELUParameter): alpha = 1.
Backward (Caffe's): dx = dy * ((x > 0) + (alpha + y) * (x <= 0)); x exactly 0 takes the
exponential branch (slope alpha). In place, ``x`` is the output, whose sign is the
input's for alpha >= 0, so the same formula gives Caffe's numbers.
"""
from ..backend import get_array_module
from .base import NeuronLayer, register


@register("ELU")
class ELULayer(NeuronLayer):
    def setup(self, bottom, top):
        self.alpha = float(self.layer_param.elu_param.alpha)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        alpha = x.dtype.type(self.alpha)
        neg = xp.minimum(x, 0)
        top[0].data[...] = xp.maximum(x, 0) + alpha * (xp.exp(neg) - 1)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x, y, dy = bottom[0].data, top[0].data, top[0].diff
        alpha = x.dtype.type(self.alpha)
        positive = x > 0
        bottom[0].diff[...] = dy * (positive + (alpha + y) * (~positive))
