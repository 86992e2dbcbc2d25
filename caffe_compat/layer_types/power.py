"""Power: y = (shift + scale * x) ^ power.

Defaults (caffe.proto PowerParameter): power = 1, scale = 1, shift = 0.
Backward follows Caffe's special cases, so the numbers (including 0/0 cases) match:
  * power * scale == 0: y is the constant (1 if power == 0 else shift^power), dx = 0;
  * power == 1:  dx = dy * scale;
  * power == 2:  dx = dy * (power*scale*scale * x + power*scale*shift);
  * shift == 0:  dx = dy * power * y / x;
  * otherwise:   dx = dy * power*scale * y / (shift + scale * x).
"""
from ..backend import get_array_module
from .base import NeuronLayer, register


@register("Power")
class PowerLayer(NeuronLayer):
    def setup(self, bottom, top):
        p = self.layer_param.power_param
        self.power = float(p.power)
        self.scale = float(p.scale)
        self.shift = float(p.shift)

    def _constants(self, dtype):
        t = dtype.type
        power, scale, shift = t(self.power), t(self.scale), t(self.shift)
        return power, scale, shift, power * scale  # diff_scale in the blob's precision

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        power, scale, shift, diff_scale = self._constants(x.dtype)
        if diff_scale == 0:
            value = x.dtype.type(1) if power == 0 else xp.power(shift, power)
            top[0].data[...] = value
            return
        y = x
        if scale != 1:
            y = y * scale
        if shift != 0:
            y = y + shift
        if power != 1:
            y = xp.power(y, power)
        top[0].data[...] = y

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].data
        power, scale, shift, diff_scale = self._constants(x.dtype)
        if diff_scale == 0:
            bottom[0].diff[...] = 0
            return
        if power == 1:
            grad = diff_scale
        elif power == 2:
            grad = (diff_scale * scale) * x
            if shift != 0:
                grad = grad + diff_scale * shift
        elif shift == 0:
            grad = top[0].data / x * power
        else:
            base = x * scale if scale != 1 else x
            base = base + shift
            grad = top[0].data / base
            if diff_scale != 1:
                grad = grad * diff_scale
        bottom[0].diff[...] = top[0].diff * grad
