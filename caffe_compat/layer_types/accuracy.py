"""Accuracy: fraction of (non-ignored) positions whose true class is among the top_k scores.

A position counts as correct when fewer than top_k classes score at least as high as the
true class, the true class itself not counted (Caffe 1.0's rule: a class tied with the true
class counts against it). Scores are taken along accuracy_param.axis; label count must equal
the product of the other dimensions. accuracy = correct / counted (0 if nothing counted).
Optional top 1: per-class accuracy, a vector of length C: correct_c / count_c, 0 for classes
without samples.
Defaults (caffe.proto AccuracyParameter): top_k = 1, axis = 1, no ignore_label.
No backward (Accuracy is not differentiable); the label never takes a gradient.
"""
from ..backend import get_array_module
from ..errors import fmt_shape
from ._loss import int_labels
from .base import Layer, register


@register("Accuracy")
class AccuracyLayer(Layer):
    EXACT_NUM_BOTTOM = 2
    MIN_TOP = 1
    MAX_TOP = 2

    def setup(self, bottom, top):
        p = self.layer_param.accuracy_param
        self.top_k = int(p.top_k)
        self.ignore_label = p.ignore_label if p.HasField("ignore_label") else None

    def allow_force_backward(self, bottom_index):
        return False

    def reshape(self, bottom, top):
        axis = self.layer_param.accuracy_param.axis
        try:
            self.axis = bottom[0].canonical_axis(axis)
        except IndexError:
            raise self.error(f"accuracy_param.axis {axis} is out of range", bottom0=bottom[0].shape)
        shape = bottom[0].shape
        self.outer = bottom[0].count_range(0, self.axis)
        self.channels = shape[self.axis]
        self.inner = bottom[0].count_range(self.axis + 1)
        if self.top_k > self.channels:
            raise self.error(f"top_k ({self.top_k}) must be less than or equal to the number "
                             f"of classes ({self.channels})", predictions=shape)
        if self.outer * self.inner != bottom[1].count:
            raise self.error(
                "number of labels must match number of predictions; with axis "
                f"{self.axis} and predictions of shape ({fmt_shape(shape)}) the label count "
                f"must be {self.outer * self.inner}",
                predictions=shape, labels=bottom[1].shape)
        top[0].reshape(())
        if len(top) > 1:
            top[1].reshape((self.channels,))

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        scores = bottom[0].data.reshape(self.outer, self.channels, self.inner)
        labels = int_labels(bottom[1].data.reshape(self.outer, self.inner))
        counted = xp.ones(labels.shape, dtype=bool)
        if self.ignore_label is not None:
            counted = labels != self.ignore_label
        bad = counted & ((labels < 0) | (labels >= self.channels))
        if bool(bad.any()):
            value = bottom[1].data.reshape(self.outer, self.inner)[bad][0]
            raise self.error(f"label value {value:g} out of range: labels must be integers "
                             f"in {{0, ..., {self.channels - 1}}} (or the ignore_label)",
                             predictions=bottom[0].shape)
        safe = xp.where(counted, labels, 0)
        true_score = xp.take_along_axis(scores, safe[:, None, :], axis=1)
        # The true class itself is ">=" its own score, hence the -1.
        num_better = (scores >= true_score).sum(axis=1) - 1
        correct = (num_better < self.top_k) & counted
        dtype = top[0].data.dtype.type
        n = int(counted.sum())
        top[0].data[...] = dtype(0) if n == 0 else dtype(int(correct.sum())) / dtype(n)
        if len(top) > 1:
            per_class_count = xp.bincount(safe[counted], minlength=self.channels)
            per_class_correct = xp.bincount(safe[correct], minlength=self.channels)
            out = xp.zeros(self.channels, dtype=top[1].data.dtype)
            seen = per_class_count > 0
            out[seen] = (per_class_correct[seen].astype(out.dtype)
                         / per_class_count[seen].astype(out.dtype))
            top[1].data[...] = out
