"""BNLL (binomial normal log likelihood): y = log(1 + exp(x)), the softplus.

Computed as Caffe does to avoid overflow: x + log(1 + exp(-x)) for x > 0, else
log(1 + exp(x)). No parameters. Backward (Caffe's): dx = dy * e / (e + 1) with
e = exp(min(x, 50)) (the threshold keeps exp finite; the slope is 1 beyond it).
"""
from ..backend import get_array_module
from .base import NeuronLayer, register

THRESHOLD = 50.0


@register("BNLL")
class BNLLLayer(NeuronLayer):
    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        top[0].data[...] = xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        xp = get_array_module(bottom[0].data)
        e = xp.exp(xp.minimum(bottom[0].data, bottom[0].data.dtype.type(THRESHOLD)))
        bottom[0].diff[...] = top[0].diff * (e / (e + 1))
