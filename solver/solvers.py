"""Caffe 1.0's solvers (solver.cpp, sgd_solver.cpp and the adaptive solvers) with pycaffe's surface.

    s = solver.get_solver("lenet_solver.prototxt")   # type from the solver's ``type``
    s.net.copy_from("init.caffemodel")
    s.step(10)            # or s.solve(); s.snapshot(); s.restore("x.solverstate")

Each iteration (``Solver::Step``): clear parameter diffs; test every ``test_interval``
iterations (also at 0 unless ``test_initialization: false``); ``iter_size`` forward/backward
passes whose gradients add up; the loss (mean over the passes, smoothed over
``average_loss`` iterations) and the net outputs are logged every ``display`` iterations;
then ``ApplyUpdate``: the rate of this iteration (``lr_policy``), ``clip_gradients`` (global
L2 norm of all diffs), then per parameter: divide by ``iter_size``, regularize (L2:
``diff += wd * decay_mult * data``; L1: ``diff += wd * decay_mult * sign(data)``), the
solver's rule with ``local_rate = rate * lr_mult``, and ``data -= diff``. Everything is
float32, as in Caffe.

Update rules (``g`` the regularized gradient, ``h``/``h2`` the history blobs saved in the
.solverstate, defaults from caffe.proto: momentum 0, delta 1e-8, momentum2 0.999,
rms_decay 0.99):

- SGD: ``h = momentum * h + local_rate * g``; step ``h``.
- Nesterov: ``h_new = momentum * h + local_rate * g``; step
  ``(1 + momentum) * h_new - momentum * h``; the history is ``h_new``.
- AdaGrad: ``h += g^2``; step ``local_rate * g / (sqrt(h) + delta)``.
- RMSProp: ``h = rms_decay * h + (1 - rms_decay) * g^2``; step ``local_rate * g / (sqrt(h) + delta)``.
- AdaDelta (``momentum`` is the decay): ``h = m h + (1 - m) g^2``;
  ``u = g * sqrt((h2 + delta) / (h + delta))``; ``h2 = m h2 + (1 - m) u^2`` (before the
  rate); step ``local_rate * u``.
- Adam (``momentum`` = beta1, ``momentum2`` = beta2, t = iter + 1): ``m = b1 m + (1 - b1) g``;
  ``v = b2 v + (1 - b2) g^2``; step
  ``local_rate * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + delta)``.

Snapshots: ``<snapshot_prefix>_iter_<N>.caffemodel`` and ``.solverstate`` (BINARYPROTO;
iter, current_step, learned_net, the history blobs: AdaDelta and Adam store their second
set after the first), written atomically. Next to the .solverstate a sidecar
``<name>.solverstate.rng.json`` keeps what Caffe does not save: the state of the process
random generator (Dropout masks, random skips) and of layers that expose ``get_state()`` /
``set_state(state)`` (data readers' positions). ``restore`` reads it when present, so a
resumed run repeats the uninterrupted one bit for bit; without it the run resumes as
Caffe's does.

Extensions over pycaffe: ``add_callback(..., before_forward=fn)`` calls ``fn()`` right before
every forward pass of the train net (to feed input blobs, also between ``iter_size``
passes); ``loss`` / ``pass_losses`` hold the last iteration's loss and per-pass losses.
"""
import json
import math
import os
import signal
import threading
import time

import numpy as np

from caffe_compat import rng as _rng
from caffe_compat.errors import CaffeError, DivergenceError, SolverError
from caffe_compat.proto import caffe_pb2

from . import log
from .log import fmt_num
from .lr_policy import check_policy, rate_and_step

f32 = np.float32

# What a signal asks for (Caffe's SolverAction).
NONE, STOP, SNAPSHOT = "none", "stop", "snapshot"
SIGNAL_EFFECTS = (NONE, STOP, SNAPSHOT)


def _read_solver(path):
    from prototxt.io import read_solver

    return read_solver(os.fspath(path))


def _read_net(path, field):
    from prototxt.io import read_net

    path = os.fspath(path)
    if not os.path.exists(path):
        raise SolverError(f"{field}: net file not found: '{path}' (paths are relative to the "
                          f"current directory, {os.getcwd()}, as in Caffe)")
    return read_net(path)


# ------------------------------------------------------------------------------ checks

def validate(param):
    """Caffe's checks on a SolverParameter (and a few it makes late), naming the field."""
    if param.type not in SOLVER_TYPES:
        raise SolverError(f"type: unknown solver type '{param.type}' "
                          f"(known: {', '.join(SOLVER_TYPES)})")
    if param.max_iter < 0:
        raise SolverError(f"max_iter: must be >= 0, got {param.max_iter}")
    for field in ("display", "test_interval", "snapshot", "stepsize"):
        if getattr(param, field) < 0:
            raise SolverError(f"{field}: must be >= 0, got {getattr(param, field)}")
    if param.average_loss < 1:
        raise SolverError(f"average_loss: must be >= 1, got {param.average_loss}")
    if param.iter_size < 1:
        raise SolverError(f"iter_size: must be >= 1, got {param.iter_size}")
    for k, n in enumerate(param.test_iter):
        if n < 0:
            raise SolverError(f"test_iter: entry {k} must be >= 0, got {n}")
    check_policy(param)
    if param.regularization_type not in ("L1", "L2"):
        raise SolverError(f"regularization_type: unknown regularization type "
                          f"'{param.regularization_type}' (known: L1, L2)")
    if param.snapshot_format != caffe_pb2.SolverParameter.BINARYPROTO:
        raise SolverError("snapshot_format: HDF5 snapshots are not supported; use BINARYPROTO "
                          "(the default)")
    if param.snapshot and not param.HasField("snapshot_prefix"):
        raise SolverError("snapshot_prefix: 'snapshot' is set but 'snapshot_prefix' is not")
    if param.clip_gradients == 0:
        pass  # Caffe clips everything to norm 0 then: allowed, if odd
    if param.type == "Adam" and not (0 <= param.momentum < 1 and 0 <= param.momentum2 < 1):
        raise SolverError("momentum/momentum2: Adam needs 0 <= beta < 1")


# ------------------------------------------------------------------------------ the solver

class Solver:
    """Caffe's Solver + SGDSolver; subclasses give ``compute_update_value``."""

    TYPE = None
    NUM_HISTORY_SETS = 1

    def __init__(self, param, sigint_effect=STOP, sighup_effect=SNAPSHOT):
        if not isinstance(param, caffe_pb2.SolverParameter):
            param = _read_solver(param)
        self.param = param
        if self.TYPE is not None and param.type != self.TYPE:
            # pycaffe's SGDSolver(path) etc. build that type whatever the file says.
            p = caffe_pb2.SolverParameter()
            p.CopyFrom(param)
            p.type = self.TYPE
            self.param = param = p
        for effect in (sigint_effect, sighup_effect):
            if effect not in SIGNAL_EFFECTS:
                raise SolverError(f"signal effect: '{effect}' is not one of {', '.join(SIGNAL_EFFECTS)}")
        self.sigint_effect, self.sighup_effect = sigint_effect, sighup_effect
        validate(param)
        log.info(log.SOLVER_INIT, "Initializing solver from parameters: \n" + _debug_string(param))
        self._check_snapshot_prefix()
        if param.random_seed >= 0:
            _rng.set_seed(param.random_seed)
        self.net = self._init_train_net()
        self.test_nets = self._init_test_nets()
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
        self._signals = []  # signals received, consumed by _requested_action
        self.requested_early_exit = False
        self._callbacks = []
        self._bar = None  # solve()'s progress bar (stdout, terminals only)
        self.loss = None
        self.pass_losses = []
        self.last_test_scores = {}  # test net id -> (iteration, [(output, mean)])
        # None: step() as Caffe's; else an object whose run(solver, iters) steps instead
        # (solver.recovery.DivergenceGuard: roll back and lower the rate on divergence).
        self.guard = None

    # -- construction -------------------------------------------------------------------
    def _check_snapshot_prefix(self):
        """Solver::CheckSnapshotWritePermissions: a probe file next to the snapshots."""
        p = self.param
        if not p.snapshot:
            return
        probe = _snapshot_filename(p, 0, ".tempfile")
        try:
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError:
            raise SolverError(f"snapshot_prefix: cannot write to snapshot prefix "
                              f"'{p.snapshot_prefix}'. Make sure that the directory exists and "
                              "is writeable.") from None

    def _load_weights(self, net):
        for entry in self.param.weights:
            for name in entry.split(","):
                log.info(log.SOLVER_FINETUNE, f"Finetuning from {name}")
                if not os.path.exists(name):
                    raise SolverError(f"weights: file not found: '{name}'")
                net.copy_from(name)

    def _init_train_net(self):
        from caffe_compat.net import Net

        p = self.param
        fields = ("net", "net_param", "train_net", "train_net_param")
        given = [f for f in fields if p.HasField(f)]
        if not given:
            raise SolverError("net: the solver must specify a train net using one of these "
                              "fields: " + ", ".join(fields))
        if len(given) > 1:
            raise SolverError("net: the solver must not contain more than one of these fields "
                              "specifying a train net: " + ", ".join(given))
        if p.HasField("train_net_param"):
            log.info(log.SOLVER_TRAIN_NET_PARAM, "Creating training net specified in train_net_param.")
            net_param = _copy(p.train_net_param)
        elif p.HasField("train_net"):
            log.info(log.SOLVER_TRAIN_NET_LEGACY, f"Creating training net from train_net file: {p.train_net}")
            net_param = _read_net(p.train_net, "train_net")
        elif p.HasField("net_param"):
            log.info(log.SOLVER_TRAIN_NET_NET_PARAM, "Creating training net specified in net_param.")
            net_param = _copy(p.net_param)
        else:
            log.info(log.SOLVER_TRAIN_NET_FILE, f"Creating training net from net file: {p.net}")
            net_param = _read_net(p.net, "net")
        state = caffe_pb2.NetState(phase=caffe_pb2.TRAIN)
        state.MergeFrom(net_param.state)
        state.MergeFrom(p.train_state)
        net_param.state.CopyFrom(state)
        net = Net(net_param)
        self._load_weights(net)
        return net

    def _init_test_nets(self):
        from caffe_compat.net import Net

        p = self.param
        generic = p.HasField("net") + p.HasField("net_param")
        n_specific = len(p.test_net_param) + len(p.test_net)
        if generic:
            if len(p.test_iter) < n_specific:
                raise SolverError("test_iter: must be specified for each test network")
        elif len(p.test_iter) != n_specific:
            raise SolverError(f"test_iter: must be specified for each test network "
                              f"({n_specific} test net(s), {len(p.test_iter)} test_iter)")
        n_instances = len(p.test_iter)
        if len(p.test_state) and len(p.test_state) != n_instances:
            raise SolverError(f"test_state: must be unspecified or specified once per test net "
                              f"({n_instances} test net(s), {len(p.test_state)} test_state)")
        if n_instances and p.test_interval <= 0:
            raise SolverError("test_interval: must be > 0 when the solver has test nets "
                              f"(test_iter given {n_instances} time(s))")
        sources, params = [], []
        for tp in p.test_net_param:
            sources.append("test_net_param")
            params.append(_copy(tp))
        for path in p.test_net:
            sources.append(f"test_net file: {path}")
            params.append(_read_net(path, "test_net"))
        remaining = n_instances - len(params)
        for _ in range(remaining):
            if p.HasField("net_param"):
                sources.append("net_param")
                params.append(_copy(p.net_param))
            elif p.HasField("net"):
                sources.append(f"net file: {p.net}")
                params.append(_read_net(p.net, "net"))
        nets = []
        for i, net_param in enumerate(params):
            state = caffe_pb2.NetState(phase=caffe_pb2.TEST)
            state.MergeFrom(net_param.state)
            if len(p.test_state):
                state.MergeFrom(p.test_state[i])
            net_param.state.CopyFrom(state)
            log.info(log.SOLVER_TEST_NET, f"Creating test net (#{i}) specified by {sources[i]}")
            net = Net(net_param)
            self._load_weights(net)
            net.share_trained_layers_with(self.net)
            nets.append(net)
        return nets

    # -- pycaffe surface ----------------------------------------------------------------
    @property
    def lr(self):
        """The learning rate the next step will use."""
        return float(rate_and_step(self.param, self.iter, self.current_step)[0])

    def add_callback(self, on_start=None, on_gradients_ready=None, before_forward=None):
        self._callbacks.append((on_start, on_gradients_ready, before_forward))

    def _call(self, which):
        for cb in self._callbacks:
            fn = cb[which]
            if fn is not None:
                fn()

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
            display = p.display and self.iter % p.display == 0
            loss = self._forward_backward()
            self._update_smoothed_loss(loss, start_iter)
            if display:
                self._display()
            if not math.isfinite(float(loss)):
                what = "nan" if math.isnan(float(loss)) else "inf"
                log.error(log.SOLVER_ITERATION, f"loss became {what} at iteration {self.iter}")
                raise DivergenceError(f"loss became {what} at iteration {self.iter}; training "
                                      "stopped (the last snapshot written is still valid)")
            self._call(1)
            self.apply_update()
            self.iter += 1
            if self._bar is not None:
                self._bar.update(1)
            request = self._requested_action()
            if (p.snapshot and self.iter % p.snapshot == 0) or request == SNAPSHOT:
                self.snapshot()
            if request == STOP:
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
        for k, (name, value, weight) in enumerate(_output_scores(self.net)):
            log.info(log.SOLVER_TRAIN_OUTPUT, f"    Train net output #{k}: {name} = "
                     f"{fmt_num(value)}{_loss_note(weight, value)}")

    # -- testing ------------------------------------------------------------------------
    def test_all(self):
        for i in range(len(self.test_nets)):
            if self.requested_early_exit:
                break
            self.test(i)

    def test(self, test_net_id=0):
        """Solver::Test: mean of the outputs over ``test_iter`` forward passes, logged."""
        p = self.param
        log.info(log.SOLVER_TESTING, f"Iteration {self.iter}, Testing net (#{test_net_id})")
        net = self.test_nets[test_net_id]
        net.share_trained_layers_with(self.net)
        scores = None
        loss = f32(0)
        n = p.test_iter[test_net_id]
        for _ in range(n):
            request = self._requested_action()
            while request != NONE:
                if request == SNAPSHOT:
                    self.snapshot()
                elif request == STOP:
                    self.requested_early_exit = True
                request = self._requested_action()
            if self.requested_early_exit:
                break
            iter_loss = f32(net.forward_from_to(0, len(net.layers) - 1))
            if p.test_compute_loss:
                loss += iter_loss
            values = _output_scores(net)
            if scores is None:
                scores = [(name, f32(v), w) for name, v, w in values]
            else:
                scores = [(name, f32(s + v), w) for (name, s, w), (_, v, _) in zip(scores, values)]
        if self.requested_early_exit:
            log.info(log.SOLVER_TEST_INTERRUPTED, "Test interrupted.")
            return None
        if p.test_compute_loss:
            loss = f32(loss / f32(n))
            log.info(log.SOLVER_TEST_LOSS, f"Test loss: {fmt_num(loss)}")
        means = []
        for k, (name, total, weight) in enumerate(scores or []):
            mean = f32(total / f32(n))
            means.append((name, mean))
            log.info(log.SOLVER_TEST_OUTPUT, f"    Test net output #{k}: {name} = "
                     f"{fmt_num(mean)}{_loss_note(weight, mean)}")
        self.last_test_scores[test_net_id] = (self.iter, means)
        return means

    # -- the update ---------------------------------------------------------------------
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
        raise NotImplementedError

    # -- snapshots ----------------------------------------------------------------------
    def snapshot(self):
        """Solver::Snapshot: the caffemodel, then the solverstate (and the rng sidecar)."""
        from caffe_compat.io import atomic_write_bytes, make_solverstate, write_solverstate

        model = _snapshot_filename(self.param, self.iter, ".caffemodel")
        log.info(log.SOLVER_SNAPSHOT_MODEL, f"Snapshotting to binary proto file {model}")
        _save_net(self.net, model, self.param.snapshot_diff)
        state_path = _snapshot_filename(self.param, self.iter, ".solverstate")
        log.info(log.SGD_SNAPSHOT_STATE,
                 f"Snapshotting solver state to binary proto file {state_path}")
        state = make_solverstate(self.iter, self.history, self.current_step, learned_net=model)
        write_solverstate(state_path, state)
        sidecar = {"format": "tscaffe-rng-1", "rng": _rng.get_state(), "layers": _layer_states(self)}
        atomic_write_bytes(state_path + ".rng.json", json.dumps(sidecar).encode("utf-8"))
        return model, state_path

    def restore(self, path):
        """Solver::Restore from a .solverstate (its learned_net, iter, current_step, history)."""
        from caffe_compat.io import blob_to_array, read_solverstate

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
        sidecar = path + ".rng.json"
        if os.path.exists(sidecar):
            with open(sidecar, encoding="utf-8") as f:
                extra = json.load(f)
            _rng.set_state(extra["rng"])
            _set_layer_states(self, extra.get("layers", {}))

    # -- the whole run ------------------------------------------------------------------
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
        with _SignalHandlers(self), log.progress(total=p.max_iter, initial=self.iter) as bar:
            self._bar = bar
            try:
                if self.guard is None:
                    self.step(p.max_iter - self.iter)
                else:
                    self.guard.run(self, p.max_iter - self.iter)
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

    # -- signals ------------------------------------------------------------------------
    def _requested_action(self):
        while self._signals:
            sig = self._signals.pop(0)
            effect = self.sigint_effect if sig == signal.SIGINT else self.sighup_effect
            if effect != NONE:
                return effect
        return NONE


class _SignalHandlers:
    """SIGINT/SIGHUP handlers for the duration of ``solve()`` (main thread only)."""

    def __init__(self, solver):
        self.solver = solver
        self.saved = {}

    def _handler(self, signum, frame):
        self.solver._signals.append(signum)

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in ("SIGINT", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None:
                self.saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, previous in self.saved.items():
            signal.signal(sig, previous)
        return False


# ------------------------------------------------------------------------------ the rules

class SGDSolver(Solver):
    TYPE = "SGD"

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        h *= f32(self.param.momentum)
        blob.diff *= self.local_rate(i, rate)  # in place: the same product, no temporary
        h += blob.diff
        blob.diff[...] = h


class NesterovSolver(Solver):
    TYPE = "Nesterov"

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        momentum = f32(self.param.momentum)
        previous = h.copy()
        h *= momentum
        h += self.local_rate(i, rate) * blob.diff
        blob.diff[...] = (f32(1) + momentum) * h - momentum * previous


class AdaGradSolver(Solver):
    TYPE = "AdaGrad"

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        g = blob.diff
        h += g * g
        update = g / (np.sqrt(h) + f32(self.param.delta))
        blob.diff[...] = self.local_rate(i, rate) * update


class RMSPropSolver(Solver):
    TYPE = "RMSProp"

    def compute_update_value(self, i, rate):
        blob, h = self.net.learnable_params[i], self.history[i]
        g = blob.diff
        decay = f32(self.param.rms_decay)
        h *= decay
        h += (f32(1) - decay) * (g * g)
        update = g / (np.sqrt(h) + f32(self.param.delta))
        blob.diff[...] = self.local_rate(i, rate) * update


class AdaDeltaSolver(Solver):
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


class AdamSolver(Solver):
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


SOLVER_TYPES = {
    "SGD": SGDSolver,
    "Nesterov": NesterovSolver,
    "AdaGrad": AdaGradSolver,
    "RMSProp": RMSPropSolver,
    "AdaDelta": AdaDeltaSolver,
    "Adam": AdamSolver,
}


def get_solver(path_or_param, **kwargs):
    """pycaffe's ``caffe.get_solver``: the solver class named by the file's ``type``."""
    param = path_or_param
    if not isinstance(param, caffe_pb2.SolverParameter):
        param = _read_solver(param)
    cls = SOLVER_TYPES.get(param.type)
    if cls is None:
        raise SolverError(f"type: unknown solver type '{param.type}' "
                          f"(known: {', '.join(SOLVER_TYPES)})")
    return cls(param, **kwargs)


# ------------------------------------------------------------------------------ helpers

def _copy(message):
    out = type(message)()
    out.CopyFrom(message)
    return out


def _debug_string(param):
    from caffe_compat.net import debug_string

    return debug_string(param)


def _snapshot_filename(param, iteration, extension):
    return f"{param.snapshot_prefix}_iter_{iteration}{extension}"


def _save_net(net, path, with_diff=False):
    if with_diff:
        from caffe_compat.io import save_caffemodel

        save_caffemodel(path, net.to_proto(write_diff=True))
    else:
        net.save(path)


def _output_scores(net):
    """[(output name, value as float32, loss weight)] for every element of every output blob."""
    weights = net.blob_loss_weights
    out = []
    for name in net.outputs:
        data = np.asarray(net.blobs[name].data, dtype=np.float32).ravel()
        for value in data:
            out.append((name, f32(value), weights.get(name, 0.0)))
    return out


def _loss_note(weight, value):
    if not weight:
        return ""
    return f" (* {fmt_num(f32(weight))} = {fmt_num(f32(weight) * f32(value))} loss)"


def _stateful_layers(solver):
    nets = [("train", solver.net)] + [(f"test{i}", n) for i, n in enumerate(solver.test_nets)]
    for tag, net in nets:
        for name, layer in zip(net.layer_names, net.layers):
            if hasattr(layer, "get_state") and hasattr(layer, "set_state"):
                yield f"{tag}/{name}", layer


def _layer_states(solver):
    return {key: layer.get_state() for key, layer in _stateful_layers(solver)}


def _set_layer_states(solver, states):
    for key, layer in _stateful_layers(solver):
        if key in states:
            layer.set_state(states[key])


__all__ = ["get_solver", "Solver", "SOLVER_TYPES", "CaffeError"] + [c.__name__ for c in SOLVER_TYPES.values()]
