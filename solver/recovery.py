"""Divergence handled, not fatal: roll back to the last good weights, lower the rate, retry.

Beyond Caffe (whose solver stops at the first NaN); ``tscaffe distill`` and ``reproduce``
use it, ``tscaffe train`` on a user's solver never does, so Caffe's own runs stay Caffe's.

    guard = DivergenceGuard(solver)      # observes: callbacks and a divergence handler
    solver.solve()                       # the solver's own loop; guard.rollbacks after

Every ``checkpoint_every`` iterations, while the loss is healthy, the learnable blobs, the
solver's history (momentum etc.), ``iter`` and ``current_step`` are copied in memory; the
two latest copies are kept and a rollback takes the older one (the newer may already hold
weights on their way up). A loss
that is NaN/inf (the solver raises DivergenceError before the update) or that exceeds
``explode`` times the run's first loss (at least ``explode`` x 1: a student that starts from
trained weights may start near 0) counts as a divergence: the copy is put back, ``base_lr`` is multiplied by ``lr_factor`` and training
goes on from there. Each rollback is one warning line in the log; after ``max_retries``
rollbacks the run stops with a clear error naming the rates tried.
"""
import math

from caffe_compat.errors import DivergenceError, SolverError

from . import log


class DivergenceGuard:
    """Observes a solver (its callbacks and its divergence handler); never drives it."""

    def __init__(self, solver, max_retries=5, lr_factor=0.5, checkpoint_every=50,
                 explode=10.0):
        if not 0 < lr_factor < 1:
            raise SolverError(f"lr_factor: must be in (0, 1), got {lr_factor}")
        self.max_retries = int(max_retries)
        self.lr_factor = float(lr_factor)
        self.checkpoint_every = max(int(checkpoint_every), 1)
        self.explode = float(explode)
        self.retries = 0
        self.rollbacks = []        # (iteration, reason, old lr, new lr) per rollback
        self._reference = None     # the first iteration's loss, from the initial weights
        self._saved = []           # the two latest SolverStates, oldest first
        solver.add_callback(on_start=lambda: self._checkpoint(solver),
                            on_gradients_ready=lambda: self._check(solver))
        solver.add_divergence_handler(self._rollback)

    # -- callbacks ----------------------------------------------------------------------
    def _checkpoint(self, solver):
        if solver.iter % self.checkpoint_every and self._saved:
            return
        if solver.loss is not None and not math.isfinite(float(solver.loss)):
            return
        if self._saved and self._saved[-1].iter == solver.iter:
            return
        self._saved = self._saved[-1:] + [solver.capture_state()]

    def _check(self, solver):
        loss = float(solver.loss)
        if self._reference is None:
            self._reference = max(loss, 1.0)
            return
        if loss > self.explode * self._reference:
            log.error(log.SOLVER_ITERATION, f"loss exploded to {log.fmt_num(loss)} at iteration "
                      f"{solver.iter} (more than {self.explode:g} x {log.fmt_num(self._reference)}, "
                      "the first iteration's loss)")
            reason = f"loss exploded to {loss:g} at iteration {solver.iter}"
            raise DivergenceError(reason, reason=reason)

    # -- the divergence handler -------------------------------------------------------------
    def _rollback(self, solver, error):
        """Put the older checkpoint back and lower the rate (True: the solver goes on), or
        give up with a clear error after ``max_retries``."""
        reason = error.reason
        if not self._saved or self.retries >= self.max_retries:
            rates = ", ".join(f"{old:g}" for _, _, old, _ in self.rollbacks)
            tried = f" (rates tried: {rates}, {solver.base_lr:g})" if rates else ""
            raise DivergenceError(
                f"{reason}: training diverged {self.retries + 1} time(s){tried}; giving up. "
                "Lower --lr or --temperature, or check the teacher's logits "
                "(their statistics are in the log)", reason=reason) from None
        self.retries += 1
        state = self._saved[0]
        self._saved = self._saved[:1]
        solver.restore_state(state)
        old = solver.base_lr
        solver.base_lr = old * self.lr_factor
        self.rollbacks.append((state.iter, reason, old, solver.base_lr))
        log.warning(log.DISTILL_RECOVERY,
                    f"{reason}: rolled back to iteration {state.iter}, base_lr {old:g} -> "
                    f"{solver.base_lr:g} (retry {self.retries} of {self.max_retries})")
        return True
