"""Threshold: y = 1 where x > threshold, else 0 (x equal to the threshold gives 0).

Defaults (caffe.proto ThresholdParameter): threshold = 0. Caffe 1.0 has no backward for
this layer (its Backward_cpu is NOT_IMPLEMENTED, so a net that back-propagates through it
aborts); here backward raises a clear error instead.
"""
from ..errors import NetError
from .base import NeuronLayer, register


@register("Threshold")
class ThresholdLayer(NeuronLayer):
    def setup(self, bottom, top):
        self.threshold = float(self.layer_param.threshold_param.threshold)

    def forward(self, bottom, top):
        x = bottom[0].data
        top[0].data[...] = x > x.dtype.type(self.threshold)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            raise NetError(f"Layer '{self.name}' (Threshold) has no backward (Caffe 1.0 "
                           "does not implement it): set propagate_down: false on it, or do not "
                           "put learnable layers below it")
