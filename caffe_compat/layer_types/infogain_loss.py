"""InfogainLoss: SoftmaxWithLoss weighted by an infogain matrix H (num_labels x num_labels).

With p = softmax(x) along infogain_loss_param.axis (default 1), outer and inner the counts
before and after that axis, and K = x.shape[axis]:

    loss = -sum_{valid (n, i)} sum_l H[label[n, i], l] * log(max(p[n, l, i], 1e-20)) / normalizer

H is bottom 2 when there are three bottoms, else read once at setup from the BlobProto file
named by infogain_loss_param.source (K*K values). A position is valid unless its label equals
loss_param.ignore_label; normalization as SoftmaxWithLoss (loss_param.normalization, default
VALID; Caffe refuses the deprecated ``normalize`` here). Optional top 1 = p (Caffe then needs
a loss_weight per top).
Backward: dx[n, l, i] = (p[n, l, i] * sum_k H[label, k] - H[label, l]) * loss_weight / normalizer,
0 at ignored positions; neither the label nor H gets a gradient (Caffe's fatal errors).
"""
import os

from ..backend import get_array_module
from ..errors import NetError, fmt_shape
from ._loss import LossLayer, int_labels, normalizer, refuse_label_backward
from .base import register
from .softmax import softmax

LOG_THRESHOLD = 1e-20


@register("InfogainLoss")
class InfogainLossLayer(LossLayer):
    EXACT_NUM_BOTTOM = -1
    EXACT_NUM_TOP = -1
    MIN_BOTTOM = 2
    MAX_BOTTOM = 3
    MIN_TOP = 1
    MAX_TOP = 2

    def setup(self, bottom, top):
        lp = self.layer_param.loss_param
        if lp.HasField("normalize"):
            raise self.error('loss_param.normalize is deprecated; use "normalization"')
        self.mode = lp.normalization
        self.ignore_label = lp.ignore_label if lp.HasField("ignore_label") else None
        self.infogain = None
        if len(bottom) < 3:
            p = self.layer_param.infogain_loss_param
            if not p.HasField("source"):
                raise self.error("Infogain matrix source must be specified "
                                 "(infogain_loss_param.source, or H as a third bottom)")
            from ..io import read_binaryproto

            if not os.path.exists(p.source):
                raise self.error(f"infogain_loss_param.source: no such file '{p.source}'")
            self.infogain = read_binaryproto(p.source)

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        shape = bottom[0].shape
        self.axis = bottom[0].canonical_axis(self.layer_param.infogain_loss_param.axis)
        self.outer = bottom[0].count_range(0, self.axis)
        self.inner = bottom[0].count_range(self.axis + 1)
        self.num_labels = shape[self.axis]
        if self.outer * self.inner != bottom[1].count:
            raise self.error(
                f"number of labels must match number of predictions: with infogain axis {self.axis} "
                f"the label count must be {self.outer * self.inner}, with integer values in "
                f"{{0, ..., {self.num_labels - 1}}}", predictions=shape, labels=bottom[1].shape)
        h = self.infogain if self.infogain is not None else bottom[2].data
        if h.size != self.num_labels ** 2:
            raise self.error(f"H must be {self.num_labels}x{self.num_labels} (it has {h.size} values: "
                             f"{fmt_shape(h.shape)})", predictions=shape)
        if len(top) > 1:
            top[1].reshape(shape)

    def _h(self, bottom):
        h = self.infogain if self.infogain is not None else bottom[2].data
        return h.reshape(self.num_labels, self.num_labels).astype(bottom[0].data.dtype, copy=False)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        t = x.dtype.type
        self.prob = softmax(x, self.axis)
        labels = int_labels(bottom[1].data.reshape(self.outer, self.inner))
        valid = xp.ones(labels.shape, dtype=bool)
        if self.ignore_label is not None:
            valid = labels != self.ignore_label
        bad = valid & ((labels < 0) | (labels >= self.num_labels))
        if bool(bad.any()):
            raise self.error(f"label value {int(labels[bad][0])} out of range: labels must be integers in "
                             f"{{0, ..., {self.num_labels - 1}}} (or the ignore_label)", predictions=x.shape)
        self.labels, self.valid = xp.where(valid, labels, 0), valid
        h = self._h(bottom)
        prob3 = self.prob.reshape(self.outer, self.num_labels, self.inner)
        logs = xp.log(xp.maximum(prob3, t(LOG_THRESHOLD)))
        # weights[n, l, i] = H[label[n, i], l]
        weights = h[self.labels].transpose(0, 2, 1)
        per = (weights * logs).sum(axis=1)
        loss = -(per * valid).sum(dtype=x.dtype)
        count = int(valid.sum())
        top[0].data[...] = loss / t(normalizer(self.mode, self.outer, self.inner, count))
        if len(top) > 1:
            top[1].data[...] = self.prob

    def backward(self, top, propagate_down, bottom):
        refuse_label_backward(self, propagate_down)
        if len(propagate_down) > 2 and propagate_down[2]:
            raise NetError(f"Layer '{self.name}' (InfogainLoss) cannot backpropagate to infogain inputs "
                           "(bottom 2, H); set propagate_down: false for it or remove force_backward")
        if not propagate_down[0]:
            return
        t = bottom[0].data.dtype.type
        h = self._h(bottom)
        prob3 = self.prob.reshape(self.outer, self.num_labels, self.inner)
        sum_rows = h.sum(axis=1)
        grad = prob3 * sum_rows[self.labels][:, None, :] - h[self.labels].transpose(0, 2, 1)
        grad *= self.valid[:, None, :]
        norm = normalizer(self.mode, self.outer, self.inner, int(self.valid.sum()))
        bottom[0].diff[...] = (grad * (t(top[0].diff.reshape(-1)[0]) / t(norm))).reshape(bottom[0].shape)
