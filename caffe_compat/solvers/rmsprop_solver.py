"""Caffe's RMSPropSolver (rmsprop_solver.cpp): ``h = rms_decay * h + (1 - rms_decay) * g^2``;
step ``local_rate * g / (sqrt(h) + delta)`` (rms_decay default 0.99, delta 1e-8)."""
import numpy as np

from .sgd_solver import SGDSolver

f32 = np.float32


class RMSPropSolver(SGDSolver):
    TYPE = "RMSProp"

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        g = blob.diff
        decay = f32(self.param.rms_decay)
        h *= decay
        h += (f32(1) - decay) * (g * g)
        update = g / (np.sqrt(h) + f32(self.param.delta))
        blob.diff[...] = self.local_rate(i, rate) * update
