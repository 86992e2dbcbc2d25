"""The learning rate read from the run: a short probe at start-up picks the largest rate
whose loss does not grow.

``probe_lr(solver, candidates, iterations)`` tries the rates of ``candidates`` from the
largest down. Each trial starts from the same state (every layer's blobs, the momentum
history, iteration 0), trains ``iterations`` iterations on the run's own schedule cut
short: the rate rises linearly to the candidate over the run's warm-up but at most half
the trial (50 of the default run's 500 iterations; none without a warm-up), then stays
there, without decay - never gentler than the run's start - and is accepted when

- every loss is finite (no divergence),
- no loss exceeds ``SPIKE`` times the mean of the first quarter's losses (no blow-up on
  the way), and
- the mean of the last quarter's losses is below the mean of the first quarter's (the loss
  comes down).

The first accepted rate is the run's ``base_lr`` (the smallest candidate when none is);
the state is put back, so training starts from the same initial weights. The trials'
batches move the data layer on (the run starts later in its first epoch) and fill the
teacher's logit cache. Test passes, display lines and snapshots are off while it probes;
each trial is one log line.
"""
import math
from dataclasses import dataclass

import numpy as np

from caffe_compat.errors import DivergenceError
from solver import log as glog

from .budget import net_blobs

SPIKE = 1.5


@dataclass
class Trial:
    lr: float
    losses: list
    accepted: bool
    why: str


def judge(losses, spike=SPIKE):
    """(accepted, why) of one trial's losses (see the module)."""
    if not losses or not all(math.isfinite(v) for v in losses):
        return False, "the loss diverged"
    q = max(len(losses) // 4, 1)
    first, last = float(np.mean(losses[:q])), float(np.mean(losses[-q:]))
    top = max(losses)
    if top > spike * first:
        return False, f"the loss rose to {top:.4g} ({top / first:.2f}x the first quarter's {first:.4g})"
    if not last < first:
        return False, f"the loss did not come down ({first:.4g} -> {last:.4g})"
    return True, f"the loss came down from {first:.4g} to {last:.4g}, at most {top:.4g}"


class _Quiet:
    """The solver's fields that would test, display, snapshot or schedule during a trial."""
    FIELDS = ("test_interval", "display", "snapshot", "lr_policy", "base_lr", "stepsize",
              "gamma", "power")

    def __init__(self, solver):
        self.param = solver.param
        self.saved = {f: getattr(self.param, f) for f in self.FIELDS}

    def set(self, lr, warmup):
        """A trial's schedule: a linear warm-up to ``lr`` over ``warmup`` iterations (none
        when 0), then ``lr``."""
        p = self.param
        p.test_interval, p.display, p.snapshot = 0, 0, 0
        p.lr_policy = "warmup_inv" if warmup > 0 else "fixed"
        p.stepsize, p.gamma, p.power = max(int(warmup), 1), 0, 0
        p.base_lr = lr

    def restore(self):
        for f, v in self.saved.items():
            setattr(self.param, f, v)


def probe_lr(solver, candidates, iterations, warmup=0):
    """Try ``candidates`` (largest first) for ``iterations`` iterations each, warming up
    over ``min(warmup, iterations // 2)`` (``warmup``: the run's own); set and return the
    chosen rate, with the list of Trials."""
    candidates = sorted({float(c) for c in candidates}, reverse=True)
    trial_warmup = min(int(warmup), iterations // 2)
    blobs = net_blobs(solver.net)
    weights = [b.data.copy() for b in blobs]
    history = [h.copy() for h in solver.history]
    start_iter, start_step = solver.iter, solver.current_step
    quiet = _Quiet(solver)
    trials = []
    losses = []
    solver.add_callback(on_gradients_ready=lambda: losses.append(float(solver.loss)))
    try:
        for lr in candidates:
            for b, w in zip(blobs, weights):
                b.data[...] = w
            for h, saved in zip(solver.history, history):
                h[...] = saved
            solver.iter, solver.current_step = start_iter, start_step
            quiet.set(lr, trial_warmup)
            losses.clear()
            try:
                solver.step(iterations)
            except DivergenceError:
                losses.append(float("nan"))
            ok, why = judge(list(losses))
            trials.append(Trial(lr, list(losses), ok, why))
            glog.info(glog.DISTILL_SETUP, f"Learning-rate probe: lr {lr:g} for {iterations} "
                                          f"iterations ({trial_warmup} of warm-up): "
                                          f"{'accepted' if ok else 'rejected'}, {why}")
            if ok:
                break
    finally:
        solver._callbacks.pop()
        quiet.restore()
        for b, w in zip(blobs, weights):
            b.data[...] = w
        for h, saved in zip(solver.history, history):
            h[...] = saved
        solver.iter, solver.current_step = start_iter, start_step
        solver.loss = None
        solver.requested_early_exit = False
    chosen = next((t.lr for t in trials if t.accepted), candidates[-1])
    solver.param.base_lr = chosen
    glog.info(glog.DISTILL_SETUP, f"Chose base_lr {chosen:g}: the largest probed rate whose "
                                  f"loss came down without a spike")
    return chosen, trials
