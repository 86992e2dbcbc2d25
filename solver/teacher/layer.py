"""``ONNXTeacher``: the Caffe Python layer that puts a teacher's logits into a student's net.

Top: the teacher's logits for the bottom's samples, times ``logit_scale``. The teacher is
never part of the student's backward pass (its bottom gets no gradient) and its activations
live in onnxruntime, not in the Net: the Net holds only the logits top. The param_str keys
(JSON), from ``prototxt.teacher_param``:

{table}

The layer is given its cache file (``cache_file``) by ``tscaffe distill``, which placed it
once for the run; a hand-written prototxt may give ``data`` instead (placed and hashed at
setup, once per process; see solver.teacher.placement).
"""
import numpy as np

from caffe_compat.layer_types.base import Layer
from caffe_compat.layer_types.distillation import parse_param_str
from prototxt.teacher_param import ALL_KEYS, table

from .builder import cached_teacher
from .errors import TeacherError

__doc__ = __doc__.replace("{table}", table())


class ONNXTeacher(Layer):
    """Python layer: top = the teacher's logits for the bottom's samples (no backward)."""

    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        text = getattr(self, "param_str", "") or self.layer_param.python_param.param_str
        params = parse_param_str(self, text, ALL_KEYS)
        try:
            self.teacher = cached_teacher(params, bottom[0].shape[1:])
        except TeacherError as e:
            raise self.error(str(e)) from None
        width = self.teacher.num_classes
        classes = params.get("num_classes")
        if classes is not None and int(classes) != width:
            raise self.error(f"the teacher gives {width} classes but the student has {classes}",
                             teacher_output=(bottom[0].shape[0], width),
                             student_output=(bottom[0].shape[0], int(classes)))
        self.num_classes = width
        try:
            self.logit_scale = np.float32(params.get("logit_scale", 1.0))
        except (TypeError, ValueError):
            raise self.error(f"logit_scale must be a number, got {params['logit_scale']!r}")
        if not (np.isfinite(self.logit_scale) and self.logit_scale > 0):
            raise self.error(f"logit_scale must be a positive number, got {params['logit_scale']!r}")

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape[0], self.num_classes)

    def allow_force_backward(self, bottom_index):
        return False

    def forward(self, bottom, top):
        logits = self.teacher.logits(bottom[0].data)
        if self.logit_scale != 1:
            logits = logits * self.logit_scale
        top[0].data[...] = logits

    def backward(self, top, propagate_down, bottom):
        if propagate_down and propagate_down[0]:
            raise self.error("the teacher is frozen: nothing back-propagates into its input")

    def close(self):
        if getattr(self, "teacher", None) is not None:
            self.teacher.save()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
