"""Clip: y = max(min, min(x, max)).

clip_param (caffe.proto ClipParameter): ``min`` and ``max`` are required (no defaults).
Backward (Caffe's): dx = dy where min <= x <= max (both ends included), else 0.
"""
from ..backend import get_array_module
from .base import NeuronLayer, register


@register("Clip")
class ClipLayer(NeuronLayer):
    def setup(self, bottom, top):
        p = self.layer_param.clip_param
        for field in ("min", "max"):
            if not p.HasField(field):
                raise self.error(f"clip_param.{field} is required")
        self.lo, self.hi = float(p.min), float(p.max)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        t = x.dtype.type
        top[0].data[...] = xp.maximum(t(self.lo), xp.minimum(x, t(self.hi)))

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].data
        t = x.dtype.type
        bottom[0].diff[...] = top[0].diff * ((x >= t(self.lo)) & (x <= t(self.hi)))
