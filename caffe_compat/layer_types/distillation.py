"""Hinton's knowledge-distillation loss, as a Python layer.

Used from a prototxt that stays valid under Caffe 1.0's schema::

    layer {
      name: "kd_loss"  type: "Python"
      bottom: "ip2_s"  bottom: "teacher_logits"  # (optional third bottom: "label")
      top: "kd_loss"
      loss_weight: 1
      python_param {
        module: "caffe_compat.layer_types.distillation"  layer: "KnowledgeDistillation"
        param_str: '{"temperature": 4}'
      }
    }

With student logits ``z_s`` and teacher logits ``z_t`` (softmax over axis 1), temperature T:

    p_t = softmax(z_t / T),   q = softmax(z_s / T)
    loss = T^2 / M * sum_i sum_c p_t[i,c] * (log p_t[i,c] - log q[i,c])      (KL(p_t || q))
    d loss / d z_s[i,c] = T / M * (q[i,c] - p_t[i,c])

The T^2 factor (Hinton et al. 2015) keeps the gradient's magnitude independent of T: the
softened KL's gradient is (q - p_t) / T and q - p_t itself shrinks like 1/T, so without it
the soft term would fade as T grows. ``M`` is the normaliser: the number of samples
(``"normalization": "batch_size"``, the default), the number of samples whose label is not
``ignore_label`` (``"valid"``, the default when ``ignore_label`` is set; needs the label as
third bottom), every sample position (``"full"``) or 1 (``"none"``). With more than two axes
each spatial position is a sample, as in SoftmaxWithLoss; axes of size 1 there are no
positions, so a student's (N, C, 1, 1) pairs with a teacher's (N, C). The teacher's bottom
and the label never receive a gradient.

param_str (JSON) keys: ``temperature`` (default 1), ``ignore_label`` (default none),
``normalization`` (see above).
"""
import json
import math

from ..backend import get_array_module
from .base import Layer


def log_softmax(z, axis=1):
    xp = get_array_module(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def parse_param_str(layer, text, allowed):
    """JSON param_str of a Python layer, with a clear error naming the layer."""
    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as e:
        raise layer.error(f"param_str is not valid JSON ({e.msg} at column {e.colno}): {text!r}")
    if not isinstance(params, dict):
        raise layer.error(f"param_str must be a JSON object, got {text!r}")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise layer.error(f"unknown param_str key(s) {unknown}; known: {sorted(allowed)}")
    return params


def _spatial(shape):
    """The axes after the class axis, without those of size 1: a global pool's (N, C, 1, 1)
    logits pair with a teacher's (N, C), as SoftmaxWithLoss pairs them with N labels."""
    return tuple(d for d in shape[2:] if d != 1)


class KnowledgeDistillation(Layer):
    """KL(teacher_T || student_T) * T^2; see the module docstring for the exact formula."""

    MIN_BOTTOM = 2
    MAX_BOTTOM = 3
    EXACT_NUM_TOP = 1
    IS_LOSS = True
    _NORMS = ("batch_size", "valid", "full", "none")

    def setup(self, bottom, top):
        p = parse_param_str(self, getattr(self, "param_str", "") or self.layer_param.python_param.param_str,
                            ("temperature", "ignore_label", "normalization"))
        self.temperature = float(p.get("temperature", 1.0))
        if not self.temperature > 0:
            raise self.error(f"temperature must be > 0, got {self.temperature}")
        self.ignore_label = p.get("ignore_label")
        default_norm = "valid" if self.ignore_label is not None else "batch_size"
        self.normalization = str(p.get("normalization", default_norm)).lower()
        if self.normalization not in self._NORMS:
            raise self.error(f"normalization must be one of {self._NORMS}, got {self.normalization!r}")
        if (self.ignore_label is not None or self.normalization == "valid") and len(bottom) < 3:
            raise self.error("ignore_label / 'valid' normalization need the label as third bottom")

    def reshape(self, bottom, top):
        s, t = bottom[0].shape, bottom[1].shape
        if s[:2] != t[:2] or _spatial(s) != _spatial(t):
            raise self.error("student and teacher logits must have the same shape (up to "
                             "axes of size 1 after the class axis)", student=s, teacher=t)
        if len(s) < 2:
            raise self.error("logits need a class axis (axis 1)", student=s)
        if len(bottom) == 3:
            outer_inner = s[0] * math.prod(s[2:])
            if bottom[2].count != outer_inner:
                raise self.error("the label needs one value per sample", student=s,
                                 label=bottom[2].shape)
        top[0].reshape(())

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0

    def _valid_mask(self, bottom):
        n, c = bottom[0].shape[:2]
        inner = bottom[0].count // (n * c)
        if self.ignore_label is None or len(bottom) < 3:
            return None
        labels = bottom[2].data.reshape(n, inner)
        return labels != self.ignore_label

    def _normalizer(self, bottom, valid):
        n, c = bottom[0].shape[:2]
        inner = bottom[0].count // (n * c)
        if self.normalization == "full":
            return float(n * inner)
        if self.normalization == "none":
            return 1.0
        if self.normalization == "valid":
            count = float(valid.sum()) if valid is not None else float(n * inner)
            return max(count, 1.0)
        return float(n)

    def forward(self, bottom, top):
        n, c = bottom[0].shape[:2]
        T = self.temperature
        zs = bottom[0].data.reshape(n, c, -1)
        zt = bottom[1].data.reshape(n, c, -1)
        log_q = log_softmax(zs / T)
        log_p = log_softmax(zt / T)
        xp = get_array_module(zs)
        p = xp.exp(log_p)
        kl = (p * (log_p - log_q)).sum(axis=1)  # (n, inner)
        valid = self._valid_mask(bottom)
        if valid is not None:
            kl = xp.where(valid, kl, 0)
        self._q_minus_p = xp.exp(log_q) - p
        self._valid = valid
        self._norm = self._normalizer(bottom, valid)
        top[0].data[...] = T * T * kl.sum() / self._norm

    def backward(self, top, propagate_down, bottom):
        if len(propagate_down) > 1 and any(propagate_down[1:]):
            raise self.error("cannot back-propagate into the teacher logits or the label")
        if not propagate_down[0]:
            return
        n, c = bottom[0].shape[:2]
        scale = float(top[0].diff) * self.temperature / self._norm
        grad = self._q_minus_p * scale
        if self._valid is not None:
            grad = grad * self._valid[:, None, :]
        bottom[0].diff[...] = grad.reshape(bottom[0].shape)
