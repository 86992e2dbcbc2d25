"""The job's teacher step: the ONNXTeacher param_str for the user's teachers, the probe on
training data (solver.teacher.probe) and the logit scale and temperature chosen from it."""
import os
from dataclasses import dataclass

import numpy as np

from solver import log as glog
from solver.teacher import profile as TP
from solver.teacher.probe import TeacherPlan, probe_teacher
from solver.teacher.user_params import per_teacher


def teacher_config(teachers, dataset, teacher_params=None, blend="prob", cache=True):
    """The ONNXTeacher param_str for ``teachers`` given the student's data transform.

    ``teacher_params`` are the teacher's own transform relative to raw pixels (one mapping
    for every teacher, or a list of them, one per teacher) (``mean``,
    ``scale``, ``resize``, ``crop``, ``pad`` with ``fill``, ``channel_order``, ``layout``). The student's blob is
    (raw - m_s) * s_s, so the teacher's input (raw - m_t) * s_t is
    (blob * (1 / s_s) - (m_t - m_s)) * s_t: unscale = 1 / s_s, mean = m_t - m_s.
    """
    specs = [dict({"onnx": os.path.abspath(t)}, **_teacher_transform(dataset, params))
             for t, params in zip(teachers, per_teacher(teacher_params, len(teachers)))]
    cfg = specs[0] if len(specs) == 1 else {"teachers": specs, "blend": blend}
    if dataset.num_classes is not None:
        cfg["num_classes"] = dataset.num_classes
    if cache:
        cfg["data"] = dataset.root
    else:
        cfg["cache"] = False
    return cfg


def _teacher_transform(dataset, teacher_params):
    """One teacher's param_str keys from its transform relative to raw pixels (see
    ``teacher_config``)."""
    extra = dict(teacher_params or {})
    s_scale = dataset.transform.get("scale", 1.0)
    s_mean = np.asarray(dataset.transform.get("mean_value", [0.0]), np.float64)
    t_mean = np.asarray(extra.pop("mean", [0.0]), np.float64)
    mean = t_mean - s_mean
    one = {"unscale": 1.0 / s_scale}
    if np.any(mean != 0):
        one["mean"] = [float(v) for v in np.broadcast_to(mean, (max(mean.size, s_mean.size),))]
    if "fill" in extra:   # raw pixels -> the units after unscale (raw - m_s)
        fill = np.asarray(extra.pop("fill"), np.float64).reshape(-1) - s_mean
        one["fill"] = [float(v) for v in fill]
    one.update(extra)
    return one


@dataclass
class TeacherChoice:
    plan: TeacherPlan         # the nets' param_str, the profile, the sample's logits
    logit_scale: float
    temperature: float        # None for the 2017 loss
    choices: list             # one line per choice, as logged


def choose_teacher(opts, dataset):
    """Probe the teachers of ``opts`` on ``dataset`` and choose the logit scale and the
    temperature (the user's values win); the lines go to the log (call it inside
    ``logging_to``)."""
    tcfg = teacher_config(opts.teachers, dataset, opts.teacher_params, opts.blend)
    plan = probe_teacher(tcfg, dataset)
    logit_scale, temperature, reasons = TP.choose(plan.profile, plan.logits, opts.loss,
                                                  opts.temperature, opts.logit_scale)
    choices = [TP.describe(plan.profile)] + [f"Chose {r}" for r in reasons]
    for line in choices:
        glog.info(glog.DISTILL_SETUP, line)
    if logit_scale != 1.0:
        plan.params["logit_scale"] = float(f"{logit_scale:.6g}")
    return TeacherChoice(plan, logit_scale, temperature, choices)
