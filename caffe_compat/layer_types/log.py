"""Log: y = log_base(shift + scale * x)  (base -1 means e).

Defaults (caffe.proto LogParameter): base = -1 (e), scale = 1, shift = 0.
Computed as Caffe does: y = ln(shift + scale * x) / ln(base).
Backward: dx = dy * (scale / ln(base)) / (shift + scale * x).
"""
import math

from ..backend import get_array_module
from .base import NeuronLayer, register


@register("Log")
class LogLayer(NeuronLayer):
    def setup(self, bottom, top):
        p = self.layer_param.log_param
        base = float(p.base)
        if base != -1 and not base > 0:
            raise self.error(f"log_param.base must be strictly positive (or -1 for e), got {base}")
        log_base = 1.0 if base == -1 else math.log(base)
        if log_base == 0 or math.isinf(log_base):
            raise self.error(f"log_param.base {base} gives log(base) = {log_base}, which can't divide")
        self.base_scale = 1.0 / log_base
        self.input_scale = float(p.scale)
        self.input_shift = float(p.shift)
        self.backward_num_scale = self.input_scale / log_base

    def _shifted(self, x):
        t = x.dtype.type
        z = x
        if self.input_scale != 1:
            z = z * t(self.input_scale)
        if self.input_shift != 0:
            z = z + t(self.input_shift)
        return z

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        y = xp.log(self._shifted(x))
        if self.base_scale != 1:
            y = y * x.dtype.type(self.base_scale)
        top[0].data[...] = y

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].data
        grad = 1 / self._shifted(x)
        if self.backward_num_scale != 1:
            grad = grad * x.dtype.type(self.backward_num_scale)
        bottom[0].diff[...] = top[0].diff * grad
