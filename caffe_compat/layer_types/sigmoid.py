"""Sigmoid: y = 1 / (1 + exp(-x)), computed as Caffe 1.0 does: 0.5 * tanh(0.5 * x) + 0.5.

No parameters. Backward: dx = dy * y * (1 - y).
"""
from ..backend import get_array_module
from .base import NeuronLayer, register


@register("Sigmoid")
class SigmoidLayer(NeuronLayer):
    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        half = x.dtype.type(0.5)
        top[0].data[...] = half * xp.tanh(half * x) + half

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            y = top[0].data
            bottom[0].diff[...] = top[0].diff * y * (1 - y)
