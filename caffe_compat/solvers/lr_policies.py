"""Learning-rate policies, as Caffe 1.0's ``SGDSolver::GetLearningRate`` computes them.

With ``it`` the iteration (the number of updates done so far):

=========  ===================================================================
policy     rate
=========  ===================================================================
fixed      base_lr
step       base_lr * gamma ^ floor(it / stepsize)          (current_step = that floor)
exp        base_lr * gamma ^ it
inv        base_lr * (1 + gamma * it) ^ (-power)
multistep  base_lr * gamma ^ current_step; current_step counts the ``stepvalue``s
           reached. Caffe advances it by at most one per iteration, so it is state
           that the .solverstate saves (``current_step``).
poly       base_lr * (1 - it / max_iter) ^ power
sigmoid    base_lr / (1 + exp(-gamma * (it - stepsize)))
=========  ===================================================================

Beyond Caffe (real Caffe 1.0 stops with "Unknown learning rate policy"; tscaffe's deep
students use it): ``warmup_inv`` = inv's rate * min(1, (it + 1) / stepsize), a linear
warm-up over the first ``stepsize`` iterations, then Caffe's ``inv`` (gamma, power).

Caffe computes in single precision; the rate is returned as a float32 value.
"""
import math

import numpy as np

from ..errors import SolverError

POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid", "warmup_inv")


def check_policy(param):
    """Raise SolverError for an unknown policy or a field the policy needs but lacks."""
    policy = param.lr_policy
    if policy not in POLICIES:
        raise SolverError(
            f"lr_policy: unknown learning rate policy '{policy}' (known: {', '.join(POLICIES)})"
        )
    if policy in ("step", "warmup_inv") and param.stepsize <= 0:
        raise SolverError(f"stepsize: lr_policy '{policy}' needs stepsize > 0, got {param.stepsize}")
    if policy in ("step", "exp", "inv", "multistep", "warmup_inv") and param.gamma < 0:
        raise SolverError(f"gamma: lr_policy '{policy}' needs gamma >= 0, got {param.gamma}")
    if policy == "poly" and param.max_iter <= 0:
        raise SolverError("max_iter: lr_policy 'poly' needs max_iter > 0")


def multistep_advance(param, it, current_step):
    """Caffe's multistep bookkeeping: at most one step further per call."""
    values = param.stepvalue
    if current_step < len(values) and it >= values[current_step]:
        return current_step + 1
    return current_step


def rate_and_step(param, it, current_step=0):
    """(rate as float32, new current_step) for iteration ``it``, mirroring Caffe's state."""
    check_policy(param)
    f32 = np.float32
    policy = param.lr_policy
    base = f32(param.base_lr)
    gamma = f32(param.gamma)
    power = f32(param.power)
    if policy == "fixed":
        rate = base
    elif policy == "step":
        current_step = it // param.stepsize
        rate = f32(float(base) * math.pow(float(gamma), current_step))  # C++ pow(float, int) is double
    elif policy == "exp":
        rate = f32(float(base) * math.pow(float(gamma), it))
    elif policy in ("inv", "warmup_inv"):
        rate = base * np.power(f32(1) + gamma * f32(it), -power)
        if policy == "warmup_inv" and it < param.stepsize:
            rate = rate * f32((it + 1) / param.stepsize)
    elif policy == "multistep":
        current_step = multistep_advance(param, it, current_step)
        rate = f32(float(base) * math.pow(float(gamma), current_step))  # C++ pow(float, int) is double
    elif policy == "poly":
        frac = f32(1) - f32(it) / f32(param.max_iter)
        with np.errstate(invalid="ignore", divide="ignore"):  # past max_iter: nan, as Caffe
            rate = base * np.power(frac, power)
    else:  # sigmoid
        rate = base * (f32(1) / (f32(1) + f32(math.exp(-gamma * (f32(it) - f32(param.stepsize))))))
    return f32(rate), current_step


def lr_at(param, it):
    """The rate of iteration ``it`` for a run that started at 0 and stepped one by one.

    For multistep this replays Caffe's one-step-per-iteration advance up to ``it``.
    """
    step = 0
    if param.lr_policy == "multistep":
        for i in range(it):
            step = multistep_advance(param, i, step)
    return rate_and_step(param, it, step)[0]
