"""The training budget read from the run itself: stop when the held-out agreement has
stopped improving.

``PlateauStop(solver, patience)`` observes a solver (a callback, as the divergence guard):
after every test pass it reads the pass's ``agreement_top1`` (the Fidelity layer's output
on the test split, which training never trains on) and, when the best value has not been
beaten for ``patience`` consecutive passes, asks the solver's loop to stop
(``requested_early_exit``) at that iteration; the solver's ``max_iter`` stays the cap.
``patience`` 0 never stops early. A rollback of the divergence guard (an iteration earlier
than the last pass seen) forgets the passes after it.

The stop reads the test split that the report scores: patience-based stopping selects the
stopping point from it, but not the weights (the run's final weights are scored, not the
best pass's).
"""
from solver import log as glog

KEY = "agreement_top1"


class PlateauStop:
    def __init__(self, solver, patience, key=KEY):
        self.patience = int(patience)
        self.key = key
        self.passes = []          # (iteration, agreement) of each test pass seen
        self.best = None          # (iteration, agreement)
        self.stopped_at = None
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
        value = dict(means).get(self.key)
        if value is None:
            return
        self.passes.append((it, float(value)))
        if self.best is None or float(value) > self.best[1]:
            self.best = (it, float(value))
            return
        since = sum(1 for p in self.passes if p[0] > self.best[0])
        if since >= self.patience and it < solver.param.max_iter:
            self.stopped_at = it
            glog.info(glog.DISTILL_SETUP,
                      f"Held-out agreement has not improved for {since} test passes (best "
                      f"{self.best[1]:.4f} at iteration {self.best[0]}, now {value:.4f}): "
                      f"stopping at iteration {it} of at most {solver.param.max_iter}")
            solver.requested_early_exit = True

    def as_dict(self):
        return {"patience": self.patience, "stopped_at": self.stopped_at,
                "best_iteration": self.best[0] if self.best else None,
                "best_agreement": self.best[1] if self.best else None,
                "passes": [[it, round(v, 6)] for it, v in self.passes]}
