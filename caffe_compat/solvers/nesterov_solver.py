"""Caffe's NesterovSolver (nesterov_solver.cpp): ``h_new = momentum * h + local_rate * g``;
step ``(1 + momentum) * h_new - momentum * h``; the history is ``h_new``."""
import numpy as np

from .sgd_solver import SGDSolver

f32 = np.float32


class NesterovSolver(SGDSolver):
    TYPE = "Nesterov"

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        momentum = f32(self.param.momentum)
        previous = h.copy()
        h *= momentum
        h += self.local_rate(i, rate) * blob.diff
        blob.diff[...] = (f32(1) + momentum) * h - momentum * previous
