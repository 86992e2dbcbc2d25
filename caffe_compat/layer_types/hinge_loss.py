"""HingeLoss: one-vs-all hinge loss of scores, L1 or L2.

With x viewed as (N, D) (D = count / N) and t[n, k] = -x[n, k] for k = label[n], else x[n, k]:

    L1: loss = sum(max(0, 1 + t)) / N            L2: loss = sum(max(0, 1 + t)^2) / N

hinge_loss_param.norm: L1 (default) or L2. Backward (h = max(0, 1 + t), and its label
entry negated): L1: dx = sign(h) * loss_weight / N, L2: dx = 2 * h * loss_weight / N.
The label gets no gradient.
"""
from ..backend import get_array_module
from ._loss import LossLayer, refuse_label_backward
from .base import register
from .multinomial_logistic_loss import checked_labels

L1, L2 = 1, 2


@register("HingeLoss")
class HingeLossLayer(LossLayer):
    def setup(self, bottom, top):
        self.norm = self.layer_param.hinge_loss_param.norm
        if self.norm not in (L1, L2):
            raise self.error(f"unknown hinge_loss_param.norm {self.norm} (L1 or L2)")

    def reshape(self, bottom, top):
        super().reshape(bottom, top)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        num = bottom[0].shape[0]
        x = bottom[0].data.reshape(num, -1)
        t = x.dtype.type
        self.labels = checked_labels(self, bottom[1].data.reshape(-1)[:num], x.shape[1], bottom[0].shape)
        rows = xp.arange(num)
        h = x.copy()
        h[rows, self.labels] *= -1
        self.h = xp.maximum(t(0), t(1) + h)
        if self.norm == L1:
            loss = xp.abs(self.h).sum(dtype=x.dtype)
        else:
            flat = self.h.reshape(-1)
            loss = xp.dot(flat, flat)
        top[0].data[...] = loss / t(num)

    def backward(self, top, propagate_down, bottom):
        refuse_label_backward(self, propagate_down)
        if not propagate_down[0]:
            return
        xp = get_array_module(self.h)
        num = self.h.shape[0]
        t = self.h.dtype.type
        g = self.h.copy()
        g[xp.arange(num), self.labels] *= -1
        lw = t(top[0].diff.reshape(-1)[0])
        if self.norm == L1:
            g = xp.sign(g) * (lw / t(num))
        else:
            g *= lw * t(2) / t(num)
        bottom[0].diff[...] = g.reshape(bottom[0].shape)
