"""Caffe's AdaDeltaSolver (adadelta_solver.cpp), ``momentum`` the decay m:
``h = m h + (1 - m) g^2``; ``u = g * sqrt((h2 + delta) / (h + delta))``;
``h2 = m h2 + (1 - m) u^2`` (before the rate); step ``local_rate * u``. Two history sets
(the .solverstate stores h2 after h)."""
import numpy as np

from .sgd_solver import SGDSolver

f32 = np.float32


class AdaDeltaSolver(SGDSolver):
    TYPE = "AdaDelta"
    NUM_HISTORY_SETS = 2

    def compute_update_value(self, i, rate):
        n = len(self.net.learnable_params)
        blob, h, h2 = self.net.learnable_params[i], self.history[i], self.history[n + i]
        g = blob.diff
        m = f32(self.param.momentum)
        delta = f32(self.param.delta)
        h *= m
        h += (f32(1) - m) * (g * g)
        update = g * np.sqrt((h2 + delta) / (h + delta))
        h2 *= m
        h2 += (f32(1) - m) * (update * update)
        blob.diff[...] = self.local_rate(i, rate) * update
