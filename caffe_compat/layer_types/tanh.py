"""TanH: y = tanh(x).

No parameters. Backward: dx = dy * (1 - y^2).
"""
from ..backend import get_array_module
from .base import NeuronLayer, register


@register("TanH")
class TanHLayer(NeuronLayer):
    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        top[0].data[...] = xp.tanh(bottom[0].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            y = top[0].data
            bottom[0].diff[...] = top[0].diff * (1 - y * y)
