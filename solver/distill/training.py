"""The job's training: the numpy solver with its Caffe-style log, the divergence guard,
BatchNorm re-estimation and the final test."""
import contextlib
import time
from dataclasses import dataclass

from caffe_compat.solvers import get_solver
from prototxt.io import read_solver
from solver import log as glog
from solver.recovery import DivergenceGuard

from .budget import PlateauStop


@contextlib.contextmanager
def logging_to(log_path, mode="a"):
    """Caffe-style log lines (solver and net construction) go to ``log_path`` meanwhile."""
    with open(log_path, mode) as logf, contextlib.redirect_stderr(logf):
        glog.install_glog_handler()
        yield


def recalibrate_batchnorm(net, passes=200):
    """Re-estimate every training-mode BatchNorm's statistics with the final weights: zero
    its moving sums and run ``passes`` TRAIN-phase forward passes (no update). With Caffe's
    moving_average_fraction 0.999 the estimate then weighs those batches almost equally,
    instead of averaging over ~1,000 iterations of changing weights. Beyond Caffe (which
    keeps the moving averages). Returns the number of BatchNorm layers re-estimated."""
    layers = [l for l in net.layers
              if l.layer_param.type == "BatchNorm" and not l.use_global_stats]
    if not layers:
        return 0
    for layer in layers:
        for blob in layer.blobs:
            blob.data[...] = 0
    for _ in range(passes):
        net.forward()
    return len(layers)


def train(solver_path, log_path, mode="w", recover=False, bn_passes=0, patience=0):
    """Run ``solver_path`` with the numpy solver, its log in ``log_path`` (``mode`` "a":
    after lines already there). ``recover``: a DivergenceGuard rolls a diverging run back
    and lowers the rate instead of stopping. ``bn_passes``: re-estimate the BatchNorm
    statistics over that many training batches before the final test
    (``recalibrate_batchnorm``). ``patience``: stop when the held-out agreement has not
    improved for that many test passes (budget.PlateauStop; 0: run to max_iter).
    Returns a TrainResult: the solver, the final test outputs {name: value}, the training
    seconds, the guard's rollbacks and the plateau stop's record (it unpacks as
    ``solver, scores, seconds``)."""
    param = read_solver(solver_path)
    with logging_to(log_path, mode):
        glog.info(glog.CAFFE_USE_CPU, "Use CPU.")
        solver = get_solver(param)
        guard = None
        if recover:
            guard = DivergenceGuard(solver)
        plateau = PlateauStop(solver, patience)
        glog.info(glog.CAFFE_STARTING, "Starting Optimization")
        start = time.time()
        solver.solve()
        secs = time.time() - start
        scores = {}
        recalibrated = 0
        if bn_passes:
            recalibrated = recalibrate_batchnorm(solver.net, bn_passes)
            if recalibrated:
                glog.info(glog.DISTILL_SETUP,
                          f"BatchNorm statistics of {recalibrated} layers re-estimated over "
                          f"{bn_passes} training batches with the final weights")
        if solver.test_nets:
            it, means = solver.last_test_scores.get(0, (None, None))
            # The final test only runs when test_interval divides max_iter; after a
            # re-estimation the statistics changed since.
            if it != solver.iter or recalibrated:
                means = solver.test(0)
            scores = dict(means)
        glog.info(glog.CAFFE_DONE, "Optimization Done.")
    return TrainResult(solver, {k: float(v) for k, v in scores.items()}, secs,
                       list(guard.rollbacks) if guard else [], plateau.as_dict())


@dataclass
class TrainResult:
    solver: object
    scores: dict
    seconds: float
    rollbacks: list      # (iteration, reason, old lr, new lr) per rollback of the guard
    budget: dict = None  # PlateauStop.as_dict(): the passes seen, where it stopped

    def __iter__(self):
        return iter((self.solver, self.scores, self.seconds))
