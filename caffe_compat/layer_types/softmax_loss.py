"""SoftmaxWithLoss: multinomial logistic loss of the softmax of bottom 0.

loss = -sum_{valid (n, i)} log(max(p[n, label[n, i], i], FLT_MIN)) / normalizer, with
p = softmax(x) along softmax_param.axis, (n, i) running over the outer and inner positions,
and a position "valid" unless its label equals loss_param.ignore_label.
normalizer (never below 1): VALID = number of valid positions, FULL = outer * inner,
BATCH_SIZE = outer, NONE = 1.
Defaults (caffe.proto): softmax_param.axis = 1; loss_param.normalization = VALID, no
ignore_label; the legacy loss_param.normalize (when normalization is not set) means VALID
for true, BATCH_SIZE for false.
Backward: dx = (p - onehot(label)) * loss_weight / normalizer, zero at ignored positions;
the label (bottom 1) gets no gradient. Optional top 1 = p.
"""
from ..backend import get_array_module, xp
from ..errors import fmt_shape
from ._loss import (LossLayer, Mode, int_labels, normalization_mode, normalizer,
                    refuse_label_backward)
from .base import register
from .softmax import softmax, softmax_axis

FLT_MIN = float(xp.finfo(xp.float32).tiny)


@register("SoftmaxWithLoss")
class SoftmaxWithLossLayer(LossLayer):
    EXACT_NUM_TOP = -1
    MIN_TOP = 1
    MAX_TOP = 2

    def setup(self, bottom, top):
        lp = self.layer_param.loss_param
        self.ignore_label = lp.ignore_label if lp.HasField("ignore_label") else None
        self.mode = normalization_mode(lp, Mode.VALID)

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        self.axis = softmax_axis(self, bottom[0])
        shape = bottom[0].shape
        self.outer = bottom[0].count_range(0, self.axis)
        self.channels = shape[self.axis]
        self.inner = bottom[0].count_range(self.axis + 1)
        if self.outer * self.inner != bottom[1].count:
            raise self.error(
                "number of labels must match number of predictions; with softmax axis "
                f"{self.axis} and predictions of shape ({fmt_shape(shape)}) the label count "
                f"must be {self.outer * self.inner}, with integer values in "
                f"{{0, ..., {self.channels - 1}}}",
                predictions=shape, labels=bottom[1].shape)
        if len(top) > 1:
            top[1].reshape(shape)

    def _labels(self, bottom):
        """(labels as int (outer, inner), valid mask) after checking their range."""
        xp = get_array_module(bottom[1].data)
        labels = int_labels(bottom[1].data.reshape(self.outer, self.inner))
        valid = xp.ones(labels.shape, dtype=bool)
        if self.ignore_label is not None:
            valid = labels != self.ignore_label
        bad = valid & ((labels < 0) | (labels >= self.channels))
        if bool(bad.any()):
            value = bottom[1].data.reshape(self.outer, self.inner)[bad][0]
            raise self.error(
                f"label value {value:g} out of range: labels must be integers in "
                f"{{0, ..., {self.channels - 1}}} (or the ignore_label)",
                predictions=bottom[0].shape)
        return xp.where(valid, labels, 0), valid

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        t = x.dtype.type
        self.prob = softmax(x, self.axis)
        labels, valid = self._labels(bottom)
        self.labels, self.valid = labels, valid
        prob3 = self.prob.reshape(self.outer, self.channels, self.inner)
        picked = xp.take_along_axis(prob3, labels[:, None, :], axis=1)[:, 0, :]
        logs = xp.log(xp.maximum(picked, t(FLT_MIN)))
        loss = -(logs * valid).sum(dtype=x.dtype)
        self.norm = normalizer(self.mode, self.outer, self.inner, int(valid.sum()))
        top[0].data[...] = loss / t(self.norm)
        if len(top) > 1:
            top[1].data[...] = self.prob

    def backward(self, top, propagate_down, bottom):
        refuse_label_backward(self, propagate_down)
        if not propagate_down[0]:
            return
        xp = get_array_module(bottom[0].data)
        t = bottom[0].data.dtype.type
        grad = self.prob.reshape(self.outer, self.channels, self.inner).copy()
        onehot = xp.zeros_like(grad)
        xp.put_along_axis(onehot, self.labels[:, None, :], 1, axis=1)
        grad -= onehot
        grad *= self.valid[:, None, :]
        scale = t(top[0].diff.reshape(-1)[0]) / t(self.norm)
        bottom[0].diff[...] = (grad * scale).reshape(bottom[0].shape)
