"""AbsVal: y = |x|.

No parameters. Backward: dx = dy * sign(x), with sign(0) = 0 (Caffe's caffe_cpu_sign).
Caffe refuses in-place use (the backward needs the input).
"""
from ..backend import get_array_module
from .base import NeuronLayer, register


@register("AbsVal")
class AbsValLayer(NeuronLayer):
    def setup(self, bottom, top):
        if top[0] is bottom[0]:
            raise self.error("AbsVal Layer does not allow in-place computation")

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        top[0].data[...] = xp.abs(bottom[0].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            xp = get_array_module(bottom[0].data)
            bottom[0].diff[...] = top[0].diff * xp.sign(bottom[0].data)
