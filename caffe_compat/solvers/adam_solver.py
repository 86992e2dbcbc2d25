"""Caffe's AdamSolver (adam_solver.cpp), ``momentum`` = beta1, ``momentum2`` = beta2
(default 0.999), t = iter + 1: ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``; step
``local_rate * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + delta)``. Two history sets
(the .solverstate stores v after m)."""
import math

import numpy as np

from .sgd_solver import SGDSolver

f32 = np.float32


class AdamSolver(SGDSolver):
    TYPE = "Adam"
    NUM_HISTORY_SETS = 2

    def compute_update_value(self, i, rate):
        n = len(self.net.learnable_params)
        blob, m, v = self.net.learnable_params[i], self.history[i], self.history[n + i]
        g = blob.diff
        b1, b2 = f32(self.param.momentum), f32(self.param.momentum2)
        t = self.iter + 1
        # C++ pow(float, int) computes in double; the correction is then stored as float.
        correction = f32(math.sqrt(1.0 - math.pow(float(b2), t)) / (1.0 - math.pow(float(b1), t)))
        m *= b1
        m += (f32(1) - b1) * g
        v *= b2
        v += (f32(1) - b2) * (g * g)
        update = m / (np.sqrt(v) + f32(self.param.delta))
        blob.diff[...] = (self.local_rate(i, rate) * correction) * update
