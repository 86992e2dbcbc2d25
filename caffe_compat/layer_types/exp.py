"""Exp: y = base ^ (shift + scale * x)  (base -1 means e).

Defaults (caffe.proto ExpParameter): base = -1 (e), scale = 1, shift = 0.
Computed as Caffe does: y = outer * exp(inner * x) with inner = ln(base) * scale and
outer = base^shift. Backward: dx = dy * y * inner.
"""
import math

from ..backend import get_array_module
from .base import NeuronLayer, register


@register("Exp")
class ExpLayer(NeuronLayer):
    def setup(self, bottom, top):
        p = self.layer_param.exp_param
        base, scale, shift = float(p.base), float(p.scale), float(p.shift)
        if base != -1 and not base > 0:
            raise self.error(f"exp_param.base must be strictly positive (or -1 for e), got {base}")
        log_base = 1.0 if base == -1 else math.log(base)
        if math.isinf(log_base):
            raise self.error(f"exp_param.base {base} gives log(base) = {log_base}")
        self.inner_scale = log_base * scale
        if shift == 0:
            self.outer_scale = 1.0
        else:
            self.outer_scale = math.exp(shift) if base == -1 else base ** shift

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        t = x.dtype.type
        y = x if self.inner_scale == 1 else x * t(self.inner_scale)
        y = xp.exp(y)
        if self.outer_scale != 1:
            y = y * t(self.outer_scale)
        top[0].data[...] = y

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        grad = top[0].data * top[0].diff
        if self.inner_scale != 1:
            grad = grad * grad.dtype.type(self.inner_scale)
        bottom[0].diff[...] = grad
