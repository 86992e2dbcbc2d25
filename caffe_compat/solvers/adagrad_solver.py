"""Caffe's AdaGradSolver (adagrad_solver.cpp): ``h += g^2``; step
``local_rate * g / (sqrt(h) + delta)`` (delta default 1e-8)."""
import numpy as np

from .sgd_solver import SGDSolver

f32 = np.float32


class AdaGradSolver(SGDSolver):
    TYPE = "AdaGrad"

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        g = blob.diff
        h += g * g
        update = g / (np.sqrt(h) + f32(self.param.delta))
        blob.diff[...] = self.local_rate(i, rate) * update
