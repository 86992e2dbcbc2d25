"""Caffe's SGDSolver (sgd_solver.cpp): the rate, gradient clipping, normalization,
regularization, the history blobs and their snapshot; its rule is momentum SGD.

``apply_update``: the rate of this iteration (``lr_policy``, lr_policies.py),
``clip_gradients`` (global L2 norm of all diffs), then per parameter: divide by
``iter_size``, regularize (L2: ``diff += wd * decay_mult * data``; L1:
``diff += wd * decay_mult * sign(data)``), the rule (``compute_update_value``, with
``local_rate = rate * lr_mult``), and ``data -= diff``. Everything is float32, as in Caffe.

SGD: ``h = momentum * h + local_rate * g``; step ``h`` (``g`` the regularized gradient,
``h`` the history blob saved in the .solverstate). The other rules subclass this class,
one file each, as in Caffe.

The .solverstate (BINARYPROTO): iter, current_step, learned_net, the history blobs
(AdaDelta and Adam store their second set after the first), written atomically.
"""
import os

import numpy as np

from .. import glog as log
from ..errors import SolverError
from ..glog import fmt_num
from .lr_policies import rate_and_step
from .snapshot import snapshot_filename
from .solver import Solver

f32 = np.float32


class SGDSolver(Solver):
    TYPE = "SGD"
    NUM_HISTORY_SETS = 1

    @property
    def lr(self):
        """The learning rate the next step will use."""
        return float(rate_and_step(self.param, self.iter, self.current_step)[0])

    def _learning_rate(self):
        """SGDSolver::GetLearningRate: advances current_step (step, multistep) as Caffe does."""
        before = self.current_step
        rate, self.current_step = rate_and_step(self.param, self.iter, self.current_step)
        if self.param.lr_policy == "multistep" and self.current_step != before:
            log.info(log.SGD_MULTISTEP, f"MultiStep Status: Iteration {self.iter}, "
                     f"step = {self.current_step}")
        return rate

    def apply_update(self):
        """SGDSolver::ApplyUpdate: rate, clip, then per parameter normalize, regularize, rule."""
        rate = self._learning_rate()
        if self.param.display and self.iter % self.param.display == 0:
            log.info(log.SGD_LR, f"Iteration {self.iter}, lr = {fmt_num(rate)}")
        self.clip_gradients()
        for i in range(len(self.net.learnable_params)):
            self.normalize(i)
            self.regularize(i)
            self.compute_update_value(i, rate)
        for blob in self.net.learnable_params:
            blob.data -= blob.diff  # in place: test nets share these arrays
        self.iter += 1  # Caffe's ApplyUpdate ends by advancing the iteration

    def clip_gradients(self):
        clip = f32(self.param.clip_gradients)
        if clip < 0:
            return
        sumsq = f32(0)
        for blob in self.net.learnable_params:
            d = blob.diff.ravel()
            sumsq += f32(np.dot(d, d))
        norm = f32(np.sqrt(sumsq))
        if norm > clip:
            scale = f32(clip / norm)
            log.info(log.SGD_CLIP, f"Gradient clipping: scaling down gradients (L2 norm "
                     f"{fmt_num(norm)} > {fmt_num(clip)}) by scale factor {fmt_num(scale)}")
            for blob in self.net.learnable_params:
                blob.diff *= scale

    def normalize(self, i):
        if self.param.iter_size == 1:
            return
        self.net.learnable_params[i].diff *= f32(1.0) / f32(self.param.iter_size)

    def regularize(self, i):
        blob = self.net.learnable_params[i]
        local_decay = f32(self.param.weight_decay) * f32(self.net.params_weight_decay[i])
        if not local_decay:
            return
        if self.param.regularization_type == "L2":
            blob.diff += local_decay * blob.data
        else:
            blob.diff += local_decay * np.sign(blob.data)

    def local_rate(self, i, rate):
        return f32(rate) * f32(self.net.params_lr[i])

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        h *= f32(self.param.momentum)
        blob.diff *= self.local_rate(i, rate)  # in place: the same product, no temporary
        h += blob.diff
        blob.diff[...] = h

    # -- the solver state -----------------------------------------------------------------
    def snapshot_solver_state(self, model):
        """SGDSolver::SnapshotSolverStateToBinaryProto; returns the file's path."""
        from ..io import make_solverstate, write_solverstate

        state_path = snapshot_filename(self.param, self.iter, ".solverstate")
        log.info(log.SGD_SNAPSHOT_STATE,
                 f"Snapshotting solver state to binary proto file {state_path}")
        state = make_solverstate(self.iter, self.history, self.current_step, learned_net=model)
        write_solverstate(state_path, state)
        return state_path

    def restore_solver_state(self, path):
        """SGDSolver::RestoreSolverStateFromBinaryProto: learned_net, iter, current_step,
        history."""
        from ..io import blob_to_array, read_solverstate

        path = os.fspath(path)
        if path.endswith(".h5"):
            raise SolverError(f"snapshot: '{path}': HDF5 solver states are not supported "
                              "(only BINARYPROTO .solverstate files)")
        if not os.path.exists(path):
            raise SolverError(f"snapshot: solver state file not found: '{path}'")
        state = read_solverstate(path)
        if state.learned_net:
            model = state.learned_net
            if not os.path.exists(model):
                beside = os.path.join(os.path.dirname(path), os.path.basename(model))
                if os.path.exists(beside):
                    model = beside  # the snapshot folder moved: its caffemodel is next to it
                else:
                    raise SolverError(f"snapshot: '{path}' names learned_net '{model}', which "
                                      "does not exist")
            self.net.copy_from(model)
        if len(state.history) != len(self.history):
            raise SolverError(f"snapshot: '{path}' has {len(state.history)} history blobs; this "
                              f"{self.param.type} solver on this net needs {len(self.history)} "
                              "(incorrect length of history blobs)")
        history = []
        for k, (blob, mine) in enumerate(zip(state.history, self.history)):
            history.append(blob_to_array(blob, mine.shape, where=f"{path}: history blob {k}")
                           .astype(np.float32))
        self.history = history
        self.iter = int(state.iter)
        self.current_step = int(state.current_step)
        log.info(log.SGD_RESTORE_HISTORY, "SGDSolver: restoring history")
