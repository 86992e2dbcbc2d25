"""EuclideanLoss: loss = sum((a - b)^2) / (2 * N), N = a.shape[0].

No parameters. Backward: da = +loss_weight / N * (a - b), db = -loss_weight / N * (a - b);
both bottoms can receive a gradient.
"""
from ..backend import get_array_module
from ._loss import LossLayer
from .base import register


@register("EuclideanLoss")
class EuclideanLossLayer(LossLayer):
    def allow_force_backward(self, bottom_index):
        return True  # Caffe's EuclideanLoss: both bottoms may take a gradient

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        if bottom[0].count_range(1) != bottom[1].count_range(1):
            raise self.error("inputs must have the same dimension",
                             bottom0=bottom[0].shape, bottom1=bottom[1].shape)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        a = bottom[0].data
        t = a.dtype.type
        self.delta = a - bottom[1].data.reshape(a.shape)
        flat = self.delta.reshape(-1)
        dot = xp.dot(flat, flat)
        top[0].data[...] = dot / t(bottom[0].shape[0]) / t(2)

    def backward(self, top, propagate_down, bottom):
        t = self.delta.dtype.type
        loss_weight = t(top[0].diff.reshape(-1)[0])
        for i, sign in ((0, 1), (1, -1)):
            if propagate_down[i]:
                alpha = t(sign) * loss_weight / t(bottom[i].shape[0])
                bottom[i].diff[...] = (alpha * self.delta).reshape(bottom[i].shape)
