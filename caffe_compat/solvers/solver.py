"""Caffe's Solver (solver.cpp): the loop, testing, snapshots, signals. The update is the
subclasses' (``SGDSolver`` in sgd_solver.py and the rules subclassing it).

Each iteration (``Solver::Step``): clear parameter diffs; test every ``test_interval``
iterations (also at 0 unless ``test_initialization: false``); ``iter_size`` forward/backward
passes whose gradients add up; the loss (mean over the passes, smoothed over
``average_loss`` iterations) and the net outputs are logged every ``display`` iterations;
then ``apply_update``. A loss that is NaN/inf raises ``DivergenceError`` (its ``reason``
says which, at which iteration) before the update.

The solver owns its loop. Observers hook in without driving it: ``add_callback`` (pycaffe's
on_start / on_gradients_ready, plus ``before_forward``: right before every forward pass of
the train net, also between ``iter_size`` passes; ``before_test`` / ``after_test``: around
every ``test``, e.g. to score averaged weights) and ``add_divergence_handler(fn)``:
``fn(solver, error)`` is called when a DivergenceError stops ``solve``'s stepping; it
returns True when it has put the solver into a state to go on from (``capture_state`` /
``restore_state``: weights, history, iteration, current step; ``base_lr``: the rate), else
the error stands. An on_start callback may set ``requested_early_exit``: the loop then
stops before that iteration's forward pass, as after a SIGINT (beyond Caffe). ``loss`` / ``pass_losses`` hold the last iteration's loss and per-pass
losses.
"""
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from .. import glog as log
from .. import rng as _rng
from ..errors import DivergenceError, SolverError
from ..glog import fmt_num
from ..proto import caffe_pb2
from . import signals
from .nets import init_test_nets, init_train_net
from .reading import read_solver
from .snapshot import check_snapshot_prefix, read_sidecar, save_net, snapshot_filename, write_sidecar
from .testing import loss_note, output_scores, run_test

f32 = np.float32


@dataclass
class SolverState:
    """What a rollback needs: copies of the weights and the history, and the counters."""
    iter: int
    current_step: int
    weights: list
    history: list


class Solver:
    """Caffe's Solver: the loop. Subclasses give ``apply_update`` and the solver state."""

    TYPE = None
    NUM_HISTORY_SETS = 0

    def __init__(self, param, sigint_effect=signals.STOP, sighup_effect=signals.SNAPSHOT):
        from . import factory

        if not isinstance(param, caffe_pb2.SolverParameter):
            param = read_solver(param)
        self.param = param
        if self.TYPE is not None and param.type != self.TYPE:
            # pycaffe's SGDSolver(path) etc. build that type whatever the file says.
            p = caffe_pb2.SolverParameter()
            p.CopyFrom(param)
            p.type = self.TYPE
            self.param = param = p
        for effect in (sigint_effect, sighup_effect):
            signals.check_effect(effect)
        self.sigint_effect, self.sighup_effect = sigint_effect, sighup_effect
        factory.validate(param)
        from ..net import debug_string

        log.info(log.SOLVER_INIT, "Initializing solver from parameters: \n" + debug_string(param))
        check_snapshot_prefix(param)
        if param.random_seed >= 0:
            _rng.set_seed(param.random_seed)
        self.net = init_train_net(param)
        self.test_nets = init_test_nets(param, self.net)
        log.info(log.SOLVER_SCAFFOLDING, "Solver scaffolding done.")
        self.iter = 0
        self.current_step = 0
        self.history = []
        for _ in range(self.NUM_HISTORY_SETS):
            self.history += [np.zeros(b.shape, np.float32) for b in self.net.learnable_params]
        self._losses = []
        self._smoothed = f32(0)
        self._iterations_last = 0
        self._timer = time.monotonic()
        self.signals_received = []  # consumed by signals.requested_action
        self.snapshot_after_test = False
        self.requested_early_exit = False
        self._callbacks = []
        self._divergence_handlers = []
        self._bar = None  # solve()'s progress bar (stdout, terminals only)
        self.loss = None
        self.pass_losses = []
        self.last_test_scores = {}  # test net id -> (iteration, [(output, mean)])

    # -- observers ------------------------------------------------------------------------
    def add_callback(self, on_start=None, on_gradients_ready=None, before_forward=None,
                     before_test=None, after_test=None):
        self._callbacks.append((on_start, on_gradients_ready, before_forward, before_test,
                                after_test))

    def add_divergence_handler(self, handler):
        """``handler(solver, error)`` -> True when the solver may go on (see the module)."""
        self._divergence_handlers.append(handler)

    def _call(self, which):
        for cb in self._callbacks:
            fn = cb[which]
            if fn is not None:
                fn()

    def set_progress_note(self, text, end=None):
        """Replace the progress bar's label (an observer's word on where the run will end,
        e.g. an early stop before ``max_iter``) and, given ``end``, let its ETA count to that
        iteration instead of ``max_iter``; nothing without a bar."""
        if self._bar is not None:
            self._bar.describe(text)
            if end is not None:
                self._bar.set_total(int(end))

    # -- state ----------------------------------------------------------------------------
    @property
    def base_lr(self):
        return self.param.base_lr

    @base_lr.setter
    def base_lr(self, value):
        self.param.base_lr = value

    def capture_state(self):
        return SolverState(self.iter, self.current_step,
                           [b.data.copy() for b in self.net.learnable_params],
                           [h.copy() for h in self.history])

    def restore_state(self, state):
        for blob, saved in zip(self.net.learnable_params, state.weights):
            blob.data[...] = saved
        for h, saved in zip(self.history, state.history):
            h[...] = saved
        self.iter, self.current_step = state.iter, state.current_step
        self.loss = None
        if self._bar is not None:
            self._bar.reset_to(state.iter)

    # -- the loop -------------------------------------------------------------------------
    def step(self, iters):
        """Solver::Step: ``iters`` iterations."""
        iters = int(iters)
        if iters < 0:
            raise SolverError(f"step: the number of iterations must be >= 0, got {iters}")
        p = self.param
        start_iter = self.iter
        stop_iter = self.iter + iters
        self._losses = []
        self._smoothed = f32(0)
        self._timer = time.monotonic()
        self._iterations_last = self.iter
        while self.iter < stop_iter:
            self.net.clear_param_diffs()
            if (p.test_interval and self.iter % p.test_interval == 0
                    and (self.iter > 0 or p.test_initialization)):
                self.test_all()
                if self.requested_early_exit:
                    break
            self._call(0)
            if self.requested_early_exit:   # an observer asked the loop to stop
                break
            display = p.display and self.iter % p.display == 0
            loss = self._forward_backward()
            self._update_smoothed_loss(loss, start_iter)
            if display:
                self._display()
            if not math.isfinite(float(loss)):
                what = "nan" if math.isnan(float(loss)) else "inf"
                reason = f"loss became {what} at iteration {self.iter}"
                log.error(log.SOLVER_ITERATION, reason)
                raise DivergenceError(f"{reason}; training stopped (the last snapshot written "
                                      "is still valid)", reason=reason)
            self._call(1)
            self.apply_update()  # advances self.iter, as Caffe's ApplyUpdate does
            if self._bar is not None:
                self._bar.update(1)
            request = signals.requested_action(self)
            if (p.snapshot and self.iter % p.snapshot == 0) or request == signals.SNAPSHOT:
                self.snapshot()
            if request == signals.STOP:
                self.requested_early_exit = True
                break

    def _forward_backward(self):
        total = f32(0)
        self.pass_losses = []
        for _ in range(self.param.iter_size):
            self._call(2)
            pass_loss = f32(self.net.forward_backward())
            self.pass_losses.append(pass_loss)
            total += pass_loss
        self.loss = f32(total / f32(self.param.iter_size))
        return self.loss

    def _update_smoothed_loss(self, loss, start_iter):
        n = self.param.average_loss
        loss = f32(loss)
        if len(self._losses) < n:
            self._losses.append(loss)
            size = len(self._losses)
            self._smoothed = f32((self._smoothed * f32(size - 1) + loss) / f32(size))
        else:
            idx = (self.iter - start_iter) % n
            self._smoothed = f32(self._smoothed + (loss - self._losses[idx]) / f32(n))
            self._losses[idx] = loss

    def _display(self):
        now = time.monotonic()
        lapse = now - self._timer
        per_s = (self.iter - self._iterations_last) / (lapse if lapse else 1.0)
        log.info(log.SOLVER_ITERATION,
                 f"Iteration {self.iter} ({fmt_num(f32(per_s))} iter/s, {fmt_num(f32(lapse))}s/"
                 f"{self.param.display} iters), loss = {fmt_num(self._smoothed)}")
        self._timer = now
        self._iterations_last = self.iter
        for k, (name, value, weight) in enumerate(output_scores(self.net)):
            log.info(log.SOLVER_TRAIN_OUTPUT, f"    Train net output #{k}: {name} = "
                     f"{fmt_num(value)}{loss_note(weight, value)}")

    def apply_update(self):
        """Solver::ApplyUpdate: update the parameters from their diffs, then advance ``iter``
        (in the Caffe revision pycaffe 1.0 ships with, ``solver.apply_update()`` alone moves
        the iteration on too)."""
        raise NotImplementedError

    def share_weights(self, net):
        """pycaffe's ``solver.share_weights(net)``: ``net`` uses this solver's trained
        parameter arrays (Net::ShareTrainedLayersWith)."""
        net.share_with(self.net)

    # -- testing --------------------------------------------------------------------------
    def test_all(self):
        for i in range(len(self.test_nets)):
            if self.requested_early_exit:
                break
            self.test(i)

    def test(self, test_net_id=0):
        """Solver::Test: mean of the outputs over ``test_iter`` forward passes, logged
        (testing.py); None when a signal stopped it. The ``before_test`` / ``after_test``
        callbacks run around it."""
        self._call(3)
        try:
            return run_test(self, test_net_id)
        finally:
            self._call(4)
            if self.snapshot_after_test:   # a SIGHUP during the pass (testing.run_test)
                self.snapshot_after_test = False
                self.snapshot()

    # -- snapshots ------------------------------------------------------------------------
    def snapshot(self):
        """Solver::Snapshot: the caffemodel, then the solver state (and the rng sidecar)."""
        model = snapshot_filename(self.param, self.iter, ".caffemodel")
        log.info(log.SOLVER_SNAPSHOT_MODEL, f"Snapshotting to binary proto file {model}")
        save_net(self.net, model, self.param.snapshot_diff)
        state_path = self.snapshot_solver_state(model)
        write_sidecar(self, state_path)
        return model, state_path

    def restore(self, path):
        """Solver::Restore from a solver state file (then the rng sidecar, when present)."""
        self.restore_solver_state(path)
        read_sidecar(self, os.fspath(path))

    def snapshot_solver_state(self, model):
        raise NotImplementedError

    def restore_solver_state(self, path):
        raise NotImplementedError

    # -- the whole run --------------------------------------------------------------------
    def solve(self, resume_file=None):
        """Solver::Solve: step to max_iter, snapshot, final display and test."""
        p = self.param
        log.info(log.SOLVER_SOLVING, f"Solving {self.net.name}")
        log.info(log.SOLVER_POLICY, f"Learning Rate Policy: {p.lr_policy}")
        self.requested_early_exit = False
        if resume_file:
            log.info(log.SOLVER_RESTORING, f"Restoring previous solver status from {resume_file}")
            self.restore(resume_file)
        start_iter = self.iter
        with signals.SignalHandlers(self), log.progress(total=p.max_iter, initial=self.iter) as bar:
            self._bar = bar
            try:
                self._step_handling_divergence(p.max_iter - self.iter)
            finally:
                self._bar = None
            if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0):
                self.snapshot()
            if self.requested_early_exit:
                log.info(log.SOLVER_STOPPED, "Optimization stopped early.")
                return
            if p.display and self.iter % p.display == 0:
                self._call(2)
                loss = f32(self.net.forward_from_to(0, len(self.net.layers) - 1))
                self._update_smoothed_loss(loss, start_iter)
                log.info(log.SOLVER_FINAL_LOSS, f"Iteration {self.iter}, loss = {fmt_num(self._smoothed)}")
            if p.test_interval and self.iter % p.test_interval == 0:
                self.test_all()
        log.info(log.SOLVER_DONE, "Optimization Done.")

    def _step_handling_divergence(self, iters):
        """``step(iters)``; a DivergenceError goes to the handlers, stepping on from the
        state they leave when one of them says so."""
        target = self.iter + int(iters)
        if not self._divergence_handlers:
            self.step(iters)
            return
        while self.iter < target and not self.requested_early_exit:
            try:
                self.step(target - self.iter)
            except DivergenceError as e:
                if not any(handler(self, e) for handler in list(self._divergence_handlers)):
                    raise
