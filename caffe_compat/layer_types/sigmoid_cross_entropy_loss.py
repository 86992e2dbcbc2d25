"""SigmoidCrossEntropyLoss: cross-entropy between targets t and sigmoid(x) (Caffe 1.0).

loss = -sum_{valid i} [x_i * (t_i - (x_i >= 0)) - log(1 + exp(x_i - 2 * x_i * (x_i >= 0)))]
       / normalizer
(the numerically stable form of -t*log(s) - (1-t)*log(1-s), s = sigmoid(x)). Element i is
valid unless int(t_i) (truncated, as static_cast<int>) equals loss_param.ignore_label.
normalizer (never below 1): VALID = number of valid elements, FULL = count,
BATCH_SIZE = x.shape[0], NONE = 1.
Defaults (caffe.proto / Caffe 1.0 LayerSetUp): no ignore_label; normalization BATCH_SIZE
when neither loss_param.normalization nor the legacy normalize is set (Caffe 1.0 keeps the
pre-1.0 "divide by num" behaviour; the proto default VALID applies only when the field is
written); normalize true -> VALID, false -> BATCH_SIZE.
Backward: dx = (sigmoid(x) - t) * loss_weight / normalizer, 0 for ignored elements. The
targets (bottom 1) never get a gradient: asking for one is an error, as in Caffe.
"""
from ..backend import get_array_module
from ..errors import fmt_shape
from ._loss import (LossLayer, Mode, int_labels, normalization_mode, normalizer,
                    refuse_label_backward)
from .base import register


@register("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLossLayer(LossLayer):
    def setup(self, bottom, top):
        lp = self.layer_param.loss_param
        self.ignore_label = lp.ignore_label if lp.HasField("ignore_label") else None
        self.mode = normalization_mode(lp, Mode.BATCH_SIZE)

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        if bottom[0].count != bottom[1].count:
            raise self.error(
                "SIGMOID_CROSS_ENTROPY_LOSS layer inputs must have the same count: number of "
                f"labels must match number of predictions ({fmt_shape(bottom[1].shape)} targets "
                f"for {fmt_shape(bottom[0].shape)} predictions)",
                predictions=bottom[0].shape, targets=bottom[1].shape)
        self.outer = bottom[0].shape[0] if bottom[0].num_axes else 1
        self.inner = bottom[0].count_range(1) if bottom[0].num_axes else 1

    def _valid(self, target):
        if self.ignore_label is None:
            return None
        return (int_labels(target) != self.ignore_label).reshape(target.shape)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        t = x.dtype.type
        target = bottom[1].data.reshape(x.shape).astype(x.dtype, copy=False)
        positive = (x >= 0).astype(x.dtype)
        terms = x * (target - positive) - xp.log(t(1) + xp.exp(x - t(2) * x * positive))
        valid = self._valid(target)
        if valid is None:
            loss = -terms.sum(dtype=x.dtype)
            count = None
        else:
            loss = -(terms * valid).sum(dtype=x.dtype)
            count = int(valid.sum())
        self.norm = normalizer(self.mode, self.outer, self.inner, count)
        top[0].data[...] = loss / t(self.norm)

    def backward(self, top, propagate_down, bottom):
        refuse_label_backward(self, propagate_down)
        if not propagate_down[0]:
            return
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        t = x.dtype.type
        half = t(0.5)
        target = bottom[1].data.reshape(x.shape).astype(x.dtype, copy=False)
        grad = (half * xp.tanh(half * x) + half) - target
        valid = self._valid(target)
        if valid is not None:
            grad = grad * valid
        scale = t(top[0].diff.reshape(-1)[0]) / t(self.norm)
        bottom[0].diff[...] = grad * scale
