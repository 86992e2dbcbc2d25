"""Several teachers as one: averaged probabilities (as log-probabilities) or averaged logits;
and ``build_ensemble``, the teachers of a param_str mapping."""
import hashlib
import json
import os

import numpy as np

from caffe_compat.layer_types.distillation import log_softmax
from prototxt.teacher_param import MODEL_KEYS

from .errors import TeacherError
from .hashing import file_sha256
from .model import OnnxModel

BLENDS = ("prob", "logit")
# The source that turns a sample into the logits a cache keeps: the input transform, the
# graph's feeds and output handling, the blend. Its digest is part of every teacher key, so a
# tscaffe whose transform computes anything differently never reads an older one's logits.
_CODE_FILES = ("transform.py", "graph_io.py", "model.py", "ensemble.py")
_code_digest = None


def code_digest():
    """A digest of the files of _CODE_FILES (16 hex digits), read once per process."""
    global _code_digest
    if _code_digest is None:
        here = os.path.dirname(os.path.abspath(__file__))
        parts = [[name, file_sha256(os.path.join(here, name))] for name in _CODE_FILES]
        _code_digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
    return _code_digest


class TeacherEnsemble:
    """One or several teachers combined; ``key`` hashes the models, their transforms and the
    code that applies them (code_digest)."""

    def __init__(self, teachers, blend="prob"):
        if blend not in BLENDS:
            raise TeacherError(f"blend must be 'prob' or 'logit', got {blend!r}")
        self.teachers = teachers
        self.blend = blend
        key = [code_digest(), blend] + [[t.model_sha256, t.transform_key] for t in teachers]
        self.key = hashlib.sha256(json.dumps(key).encode()).hexdigest()

    @property
    def runs(self):
        return sum(t.runs for t in self.teachers)

    def check_input(self, sample_shape):
        """The class count, after checking every teacher against data of ``sample_shape``."""
        outs = [t.check_input(sample_shape) for t in self.teachers]
        widths = {o.shape[1] for o in outs}
        if len(widths) != 1:
            raise TeacherError(f"blended teachers disagree on the number of classes: {sorted(widths)}")
        return widths.pop()

    def logits(self, data, batch_size=None):
        outs = [t.logits(data, batch_size) for t in self.teachers]
        if len(outs) == 1:
            return outs[0]
        if self.blend == "logit":
            return np.mean(outs, axis=0).astype(np.float32)
        probs = np.mean([np.exp(log_softmax(o.astype(np.float64))) for o in outs], axis=0)
        return np.log(np.maximum(probs, 1e-45)).astype(np.float32)


def teacher_specs(params):
    """The per-teacher mappings of ``params`` (``teachers``, or the one teacher's keys)."""
    specs = params.get("teachers")
    if specs is None:
        return [{k: params[k] for k in MODEL_KEYS if k in params}]
    return specs


def build_ensemble(params, error=TeacherError):
    """The TeacherEnsemble of a param_str mapping (one teacher or ``teachers``)."""
    if params.get("teachers") is not None and "onnx" in params:
        raise error("give either 'onnx' or 'teachers', not both")
    teachers = []
    for spec in teacher_specs(params):
        unknown = sorted(set(spec) - set(MODEL_KEYS))
        if unknown:
            raise error(f"unknown teacher key(s) {unknown}; known: {list(MODEL_KEYS)}")
        if "onnx" not in spec:
            raise error("a teacher needs an 'onnx' model path")
        teachers.append(OnnxModel(**spec, num_classes=params.get("num_classes")))
    return TeacherEnsemble(teachers, params.get("blend", "prob"))
