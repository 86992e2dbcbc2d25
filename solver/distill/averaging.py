"""An exponential moving average of the student's weights, the weights that are tested,
kept and saved (Polyak averaging; beyond Caffe).

SGD's last iterate jitters around the region the rate lets it reach; the average of the
recent iterates sits nearer its middle, and in distillation it agrees with the teacher more
often than any single iterate (README, issue 23). ``WeightAverage(solver, decay)`` observes
a solver:

- at the start of every iteration (and before a test, when that iteration is not counted
  yet) it folds the current weights into the average, for every blob of every layer of the
  train net (weights and BatchNorm statistics)::

      avg <- d avg + (1 - d) w,      d = min(decay, (1 + n) / (10 + n))

  where ``n`` counts the updates since the average last started, so the first iterations'
  random weights are forgotten fast (TensorFlow's ExponentialMovingAverage with
  ``num_updates``); ``decay`` 0.999 averages over about the last 1,000 iterations;
- around every test pass (the solver's ``before_test`` / ``after_test``) it puts the
  average into the net and the trained weights back after, so the held-out agreement that
  the plateau stop reads is the average's (budget.PlateauStop copies ``averaged()`` as its
  best weights);
- when the iteration goes back (a divergence rollback) or the plateau stop puts older
  weights back (``restart``), the average starts again from the net's weights.

``apply()`` puts the average into the net for good (after training, when no plateau stop
restored its best average). The arrays are allocated once; an update is three in-place
passes over the weights.
"""
import numpy as np

from .budget import net_blobs


class WeightAverage:
    def __init__(self, solver, decay):
        if not 0.0 < float(decay) < 1.0:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.blobs = net_blobs(solver.net)
        self.avg = [np.array(b.data, copy=True) for b in self.blobs]
        self._held = [np.empty_like(a) for a in self.avg]   # the trained weights in a test
        self.updates = 0
        self.restarts = 0
        self._last = solver.iter
        self._swapped = False
        self._solver = solver
        solver.add_callback(on_start=self._fold, before_test=self._swap_in,
                            after_test=self._swap_out)

    def restart(self):
        """The average starts again from the net's current weights."""
        for a, b in zip(self.avg, self.blobs):
            np.copyto(a, b.data)
        self.updates = 0
        self.restarts += 1
        self._last = self._solver.iter

    def _fold(self):
        it = self._solver.iter
        if it < self._last:          # rolled back: the average held diverging weights
            self.restart()
            return
        if it == self._last:
            return
        self._last = it
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        self.updates += 1
        for a, b, tmp in zip(self.avg, self.blobs, self._held):
            np.subtract(b.data, a, out=tmp)
            tmp *= 1.0 - d
            a += tmp

    def _swap_in(self):
        self._fold()
        for a, b, held in zip(self.avg, self.blobs, self._held):
            np.copyto(held, b.data)
            np.copyto(b.data, a)
        self._swapped = True

    def _swap_out(self):
        if not self._swapped:
            return
        for b, held in zip(self.blobs, self._held):
            np.copyto(b.data, held)
        self._swapped = False

    def averaged(self):
        """Copies of the averaged blobs, in ``net_blobs`` order."""
        return [a.copy() for a in self.avg]

    def apply(self):
        """Put the average into the net's blobs for good."""
        for a, b in zip(self.avg, self.blobs):
            np.copyto(b.data, a)

    def as_dict(self):
        return {"decay": self.decay, "updates_since_restart": self.updates,
                "restarts": self.restarts}
