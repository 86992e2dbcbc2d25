"""The training budget read from the run itself: stop when the held-out agreement has
stopped improving, and keep the best pass's weights.

``PlateauStop(solver, patience)`` observes a solver (a callback, as the divergence guard).
The solver's test net #0 reads the held-out slice of the training data (heldout.py: never
trained on); after every test pass it reads the pass's ``agreement_top1`` and

- when the pass beats every earlier one, copies the net's weights (every layer's blobs,
  BatchNorm statistics included) as the best snapshot;
- when the best value has not been beaten for ``patience`` consecutive passes and fewer
  than ``decays`` lr decays have been made, decays the rate instead of stopping: the best
  pass's weights are put back, the momentum history is zeroed (it holds steps of the old
  rate from other weights), ``base_lr`` is multiplied by ``factor`` and training goes on;
  the count of passes without improvement starts again from there. This is Caffe's
  ``multistep`` idea (the rate divided by 10 at chosen iterations) with the steps placed by
  the held-out plateau instead of by hand: the lr that made the progress so far has stopped
  making any, and the first plateau is not the end of learning at a smaller rate (issue 23:
  the Fashion-MNIST BatchNorm teacher's student stalled at 0.9376 at a constant-ish 0.01);
- when the best value has not been beaten for ``patience`` consecutive passes after the
  last decay, asks the solver's loop to stop (``requested_early_exit``) at that iteration;
  the solver's ``max_iter`` stays the cap.

With a weight average (``average``: averaging.WeightAverage), the passes score the average,
so the best snapshot copies the average, a decay puts it back and starts the average again
from it, and ``finish`` always puts the best average into the net.

``finish(solver)`` (after ``solve``) counts the pass at the cap too and puts the best
pass's weights back when a later one was worse, so the saved and scored student is the
best held-out pass's. ``patience`` 0 neither stops nor restores: the run goes to the cap
and its last weights are kept. A rollback of the divergence guard (an iteration earlier
than the last pass seen) forgets the passes after it (and their snapshot); decays made
stay made (the guard keeps the lowered rate).

The test split is not read here: the report scores it once, after training
(training.final_test).
"""
from solver import log as glog

KEY = "agreement_top1"


def net_blobs(net):
    """Every layer's blobs of ``net`` in layer order (weights and BatchNorm statistics), a
    blob shared by several layers once."""
    seen, out = set(), []
    for layer in net.layers:
        for b in layer.blobs:
            if id(b) not in seen:
                seen.add(id(b))
                out.append(b)
    return out


class PlateauStop:
    def __init__(self, solver, patience, key=KEY, decays=0, factor=0.1, average=None):
        self.patience = int(patience)
        self.average = average
        self.key = key
        self.max_decays = int(decays)
        self.factor = float(factor)
        self.decays = []          # (iteration, restored iteration, old lr, new lr) per decay
        self.passes = []          # (iteration, agreement) of each test pass seen
        self.best = None          # (iteration, agreement)
        self.stopped_at = None
        self.restored = None      # the iteration whose weights finish() put back
        self._weights = None      # copies of the best pass's blobs
        self._cap = None
        if self.patience > 0:
            solver.add_callback(on_start=lambda: self._check(solver))

    def _check(self, solver):
        it, means = solver.last_test_scores.get(0, (None, None))
        if it is None or it != solver.iter or means is None:
            return
        if self.passes and it <= self.passes[-1][0]:
            if it == self.passes[-1][0]:
                return
            self.passes = [p for p in self.passes if p[0] < it]   # rolled back
            self.best = max(self.passes, key=lambda p: p[1], default=None)
            if self.best is None or self._weights is None or self._weights[0] >= it:
                self._weights = None
        value = dict(means).get(self.key)
        if value is None:
            return
        self.passes.append((it, float(value)))
        if self.best is None or float(value) > self.best[1]:
            self.best = (it, float(value))
            self._weights = (it, self._copy(solver))
            self._note(solver)
            return
        since = sum(1 for p in self.passes if p[0] > self._since_iteration())
        if since >= self.patience and it < solver.param.max_iter and \
                len(self.decays) < self.max_decays:
            self._decay(solver, it, since, value)
            self._note(solver)
            return
        self._note(solver)
        if since >= self.patience and it < solver.param.max_iter:
            self.stopped_at = it
            glog.info(glog.DISTILL_SETUP,
                      f"Held-out agreement has not improved for {since} test passes (best "
                      f"{self.best[1]:.4f} at iteration {self.best[0]}, now {value:.4f}): "
                      f"stopping at iteration {it} of at most {solver.param.max_iter}")
            solver.requested_early_exit = True

    def _since_iteration(self):
        """Passes after this iteration count towards the plateau: the best pass's, or the
        last decay's when that came later."""
        last = self.decays[-1][0] if self.decays else 0
        return max(self.best[0] if self.best else 0, last)

    def _decay(self, solver, it, since, value):
        """Put the best pass's weights back, zero the momentum, base_lr x factor."""
        best_it, saved = self._weights or (it, None)
        if saved is not None:
            self._put(solver, saved)
        if self.average is not None:
            self.average.restart()
        for h in getattr(solver, "history", ()):
            h[...] = 0
        old = solver.base_lr
        solver.base_lr = old * self.factor
        self.decays.append((it, best_it, old, solver.base_lr))
        glog.info(glog.DISTILL_SETUP,
                  f"Held-out agreement has not improved for {since} test passes (best "
                  f"{self.best[1]:.4f} at iteration {best_it}, now {value:.4f}): lr decay "
                  f"{len(self.decays)} of {self.max_decays} at iteration {it}: weights of "
                  f"iteration {best_it} restored, momentum zeroed, base_lr {old:g} -> "
                  f"{solver.base_lr:g}")

    def _copy(self, solver):
        """Copies of the weights the pass scored: the net's, or the average's."""
        if self.average is not None:
            return self.average.averaged()
        return [b.data.copy() for b in net_blobs(solver.net)]

    def _put(self, solver, saved):
        for blob, data in zip(net_blobs(solver.net), saved):
            blob.data[...] = data

    def latest_stop(self, solver):
        """The iteration where the run stops if no later pass beats the best one (the
        cap at the latest): patience passes after the best (or the last decay), plus
        patience passes for every decay left."""
        interval = solver.param.test_interval or solver.param.max_iter
        left = self.max_decays - len(self.decays)
        return min(self._since_iteration() + (1 + left) * self.patience * interval,
                   solver.param.max_iter)

    def _note(self, solver):
        """The progress bar says where the run ends if nothing improves (not the cap), and
        its ETA counts to there."""
        note = getattr(solver, "set_progress_note", None)
        if note is not None:
            end = self.latest_stop(solver)
            note(f"train (ends at {end} unless held-out agreement improves; at most "
                 f"{solver.param.max_iter})", end=end)

    def finish(self, solver):
        """After ``solve``: count a pass at the final iteration not seen yet, then put the
        best pass's weights back if the final weights are not them. Returns the iteration
        whose weights the net now holds."""
        if self.patience <= 0:
            return solver.iter
        self._check(solver)
        if self._weights is None or self.best is None:
            return solver.iter
        it, saved = self._weights
        if it == solver.iter and self.average is None:
            return it
        self._put(solver, saved)
        self.restored = it
        glog.info(glog.DISTILL_SETUP,
                  f"Restored the {'averaged ' if self.average is not None else ''}weights "
                  f"of iteration {it} (best held-out agreement "
                  f"{self.best[1]:.4f}) in place of those of iteration {solver.iter}: the "
                  f"saved and scored student is the best held-out pass's")
        return it

    def as_dict(self):
        return {"patience": self.patience, "stopped_at": self.stopped_at,
                "best_iteration": self.best[0] if self.best else None,
                "best_agreement": self.best[1] if self.best else None,
                "restored_iteration": self.restored,
                "lr_decays": [{"iteration": it, "restored": r, "lr_before": a, "lr_after": b}
                              for it, r, a, b in self.decays],
                "passes": [[it, round(v, 6)] for it, v in self.passes]}
