"""Swish: y = x * sigmoid(beta * x).

Defaults (caffe.proto SwishParameter): beta = 1. The sigmoid is Caffe's Sigmoid layer
(0.5 * tanh(0.5 z) + 0.5). Backward (Caffe's, from the output and the kept sigmoid):
dx = dy * (beta * y + s * (1 - beta * y)), s = sigmoid(beta * x); it needs no input, so the
layer also works in place.
"""
from ..backend import get_array_module
from .base import NeuronLayer, register


@register("Swish")
class SwishLayer(NeuronLayer):
    def setup(self, bottom, top):
        self.beta = float(self.layer_param.swish_param.beta)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        t = x.dtype.type
        s = xp.tanh((x * t(self.beta)) * t(0.5)) * t(0.5) + t(0.5)
        self.sig = s
        top[0].data[...] = x * s

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y = top[0].data
        t = y.dtype.type
        by = t(self.beta) * y
        bottom[0].diff[...] = top[0].diff * (by + self.sig * (t(1) - by))
