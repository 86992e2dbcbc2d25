"""MultinomialLogisticLoss: the log loss of given probabilities.

    loss = -sum_n log(max(p[n, label[n]], 1e-20)) / N

with p viewed as (N, count / N) and one integer label per sample (bottom 1 of shape
(N, 1, 1, 1) in Caffe's legacy sense: channels, height and width 1). No parameters.
Backward: dp[n, label[n]] = -loss_weight / N / max(p[n, label[n]], 1e-20), 0 elsewhere;
the label gets no gradient.
"""
from ..backend import get_array_module
from ._loss import LossLayer, int_labels, refuse_label_backward
from .base import register

LOG_THRESHOLD = 1e-20


def legacy_dim(shape, i):
    """Caffe's legacy num/channels/height/width: missing axes count as 1."""
    return shape[i] if i < len(shape) else 1


def checked_labels(layer, label, classes, predictions):
    """int labels (truncated, as static_cast<int>), each in 0 .. classes - 1."""
    labels = int_labels(label.reshape(-1))
    bad = (labels < 0) | (labels >= classes)
    if bool(bad.any()):
        raise layer.error(f"label value {float(label.reshape(-1)[bad][0]):g} out of range: labels must be "
                          f"integers in {{0, ..., {classes - 1}}}", predictions=predictions)
    return labels


@register("MultinomialLogisticLoss")
class MultinomialLogisticLossLayer(LossLayer):
    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        s = bottom[1].shape
        if len(s) > 4 or any(legacy_dim(s, i) != 1 for i in (1, 2, 3)):
            raise self.error("the label must have channels, height and width 1 (one label per sample)",
                             bottom1=s)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        num = bottom[0].shape[0]
        p = bottom[0].data.reshape(num, -1)
        t = p.dtype.type
        self.labels = checked_labels(self, bottom[1].data, p.shape[1], bottom[0].shape)
        self.picked = xp.maximum(p[xp.arange(num), self.labels], t(LOG_THRESHOLD))
        top[0].data[...] = -xp.log(self.picked).sum(dtype=p.dtype) / t(num)

    def backward(self, top, propagate_down, bottom):
        refuse_label_backward(self, propagate_down)
        if not propagate_down[0]:
            return
        xp = get_array_module(bottom[0].data)
        num = bottom[0].shape[0]
        dx = bottom[0].diff.reshape(num, -1)
        t = dx.dtype.type
        dx[...] = 0
        scale = -t(top[0].diff.reshape(-1)[0]) / t(num)
        dx[xp.arange(num), self.labels] = scale / self.picked
