"""The probe: the teacher(s) on a sample of the training data before training.

``probe_teacher`` returns a ``TeacherPlan``: the params the nets should use (a copy: the
caller's mapping is never changed), the teacher's profile (solver.teacher.profile) and the
sample's logits and labels. It runs through the logit cache the training will use, so the
cache is placed (and the dataset hashed) here, once per run; the plan's params name that
file (``cache_file``), so the nets' layers never hash the data again.
"""
import copy
from dataclasses import dataclass

import numpy as np

from caffe_compat.errors import CaffeError

from . import profile as TP
from .builder import cached_teacher
from .ensemble import build_ensemble
from .errors import TeacherError

HINT = " (--teacher-params: 'scale', 'mean', 'std', 'channel_order', 'layout')"


@dataclass
class TeacherPlan:
    params: dict              # the layer's param_str for the nets
    profile: TP.TeacherProfile
    logits: np.ndarray        # the sample's teacher logits (N, C)
    labels: np.ndarray        # the sample's labels (N,)
    cache_file: str = None    # where the logits are cached (None: no cache)
    cache_why: str = None


def _outputs_seen(params, ensemble, blob):
    """A copy of ``params`` with ``"outputs": "probabilities"`` for each teacher whose
    outputs on the data are probabilities although its graph has no final Softmax; None if
    there is none."""
    params = copy.deepcopy(params)
    specs = params["teachers"] if "teachers" in params else [params]
    found = False
    for one, t in zip(specs, ensemble.teachers):
        if (one.get("outputs", "auto") == "auto" and t.outputs == "logits"
                and TP.looks_like_probabilities(t.logits(blob[:256]))):
            one["outputs"] = "probabilities"
            found = True
    return params if found else None


def probe_teacher(params, spec, samples=None):
    """The TeacherPlan of the teacher(s) of ``params`` on the data of ``spec`` (a
    caffe_compat.data.Dataset: its first training samples as the student sees them)."""
    blob, labels = spec.sample(samples or TP.PROBE_SAMPLES)
    params = copy.deepcopy(params)
    try:
        ensemble = build_ensemble(params)
        width = ensemble.check_input(spec.sample_shape)
        seen = _outputs_seen(params, ensemble, blob)
        if seen is not None:  # the output kind is part of the cache key: build it again
            params = seen
            ensemble = build_ensemble(params)
        if spec.num_classes is not None and width != spec.num_classes:
            raise CaffeError(f"teacher: it gives {width} classes (output shape [N, {width}]) "
                             f"but the data has {spec.num_classes} (student output "
                             f"[N, {spec.num_classes}])")
        teacher = cached_teacher(params, ensemble=ensemble)
    except TeacherError as e:
        raise CaffeError(f"teacher: {e}") from None
    logits = teacher.logits(blob)
    teacher.save()
    if teacher.cache_path is not None:
        params["cache_file"] = teacher.cache_path
    outputs = sorted({t.outputs for t in ensemble.teachers})
    prof = TP.profile(logits, "/".join(outputs), labels)
    TP.check_contract(prof, labels, hint=HINT)
    return TeacherPlan(params, prof, logits, labels, teacher.cache_path, teacher.cache_why)
