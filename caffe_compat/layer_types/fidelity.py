"""Fidelity of a student to its teacher, as a Python layer (TEST-phase outputs).

    layer {
      name: "fidelity"  type: "Python"
      bottom: "ip2_s"  bottom: "teacher_logits"
      top: "agreement_top1"  top: "agreement_top5"  top: "kl"
      include { phase: TEST }
      python_param { module: "caffe_compat.layer_types.fidelity"  layer: "Fidelity" }
    }

For N samples with student logits ``z_s`` and teacher logits ``z_t`` (classes on axis 1):

- ``agreement_top1`` = (1/N) * #{i : argmax z_s[i] == argmax z_t[i]}
- ``agreement_top5`` = (1/N) * #{i : argmax z_t[i] is among the k largest of z_s[i]},
  k = min(5, classes) (``"top_k"`` in param_str changes 5)
- ``kl`` = (1/N) * sum_i KL(softmax(z_t[i]) || softmax(z_s[i]))  (nats, temperature 1)

Logits of shape (N, classes, 1, 1), a global pool's, count as (N, classes). Tops are optional
from the right: one top gives top-1 agreement only. Ties in argmax take
the lowest class index, as numpy's argmax does. The layer has no backward: it is a metric,
printed by the solver as "Test net output" lines, averaged over test iterations.
"""
from ..backend import get_array_module
from .base import Layer
from .distillation import log_softmax, parse_param_str


class Fidelity(Layer):
    EXACT_NUM_BOTTOM = 2
    MIN_TOP = 1
    MAX_TOP = 3

    def setup(self, bottom, top):
        p = parse_param_str(self, getattr(self, "param_str", "") or self.layer_param.python_param.param_str,
                            ("top_k",))
        self.top_k = int(p.get("top_k", 5))
        if self.top_k < 1:
            raise self.error(f"top_k must be >= 1, got {self.top_k}")

    def reshape(self, bottom, top):
        s, t = bottom[0].shape, bottom[1].shape
        if len(s) < 2 or s[:2] != t[:2] or any(d != 1 for d in s[2:] + t[2:]):
            raise self.error("needs student and teacher logits of the same (N, classes) shape "
                             "(axes of size 1 after it allowed)", student=s, teacher=t)
        for t in top:
            t.reshape(())

    def allow_force_backward(self, bottom_index):
        return False

    def forward(self, bottom, top):
        n, c = bottom[0].shape[:2]
        zs, zt = bottom[0].data.reshape(n, c), bottom[1].data.reshape(n, c)
        xp = get_array_module(zs)
        teacher_class = zt.argmax(axis=1)
        top[0].data[...] = xp.mean(zs.argmax(axis=1) == teacher_class)
        if len(top) > 1:
            k = min(self.top_k, c)
            # The teacher's class is in the student's top k iff fewer than k classes score
            # strictly higher than it (ties resolved in the teacher's class's favour).
            own = zs[xp.arange(n), teacher_class][:, None]
            top[1].data[...] = xp.mean((zs > own).sum(axis=1) < k)
        if len(top) > 2:
            log_p, log_q = log_softmax(zt), log_softmax(zs)
            top[2].data[...] = xp.mean((xp.exp(log_p) * (log_p - log_q)).sum(axis=1))
