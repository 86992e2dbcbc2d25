"""ReLU: y = max(x, 0) + negative_slope * min(x, 0).

Defaults (caffe.proto ReLUParameter): negative_slope = 0.
Backward (Caffe's): dx = dy * ((x > 0) + negative_slope * (x <= 0)); x exactly 0 takes the
slope branch. In place, ``x`` is the output, whose sign equals the input's for slope >= 0.
"""
from ..backend import get_array_module
from ..parallel import over_batch
from ._workspace import Workspace
from .base import NeuronLayer, register


@register("ReLU")
class ReLULayer(NeuronLayer):
    def setup(self, bottom, top):
        self.negative_slope = float(self.layer_param.relu_param.negative_slope)
        self.ws = Workspace()

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        if self.negative_slope == 0:
            xf, yf, zero = x.reshape(-1), top[0].data.reshape(-1), x.dtype.type(0)
            # Safe in place (elementwise); slices on separate threads.
            over_batch(lambda lo, hi: xp.maximum(xf[lo:hi], zero, out=yf[lo:hi]), xf.size, xf.size)
            return
        y = xp.maximum(x, 0)
        y = y + x.dtype.type(self.negative_slope) * xp.minimum(x, 0)
        top[0].data[...] = y

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].data
        dy = top[0].diff
        if self.negative_slope == 0:
            # dx = dy where x > 0, else 0 (in place too: dy is read before it is written).
            xp = get_array_module(x)
            xf, dyf, dxf = x.reshape(-1), dy.reshape(-1), bottom[0].diff.reshape(-1)
            mask = self.ws.get("positive", xf.shape, bool)  # kept: no allocation per pass

            def part(lo, hi):
                xp.greater(xf[lo:hi], 0, out=mask[lo:hi])
                xp.multiply(dyf[lo:hi], mask[lo:hi], out=dxf[lo:hi])

            over_batch(part, xf.size, xf.size)
            return
        positive = x > 0
        slope = x.dtype.type(self.negative_slope)
        bottom[0].diff[...] = dy * (positive + slope * (~positive))
