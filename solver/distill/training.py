"""The job's training: the numpy solver with its Caffe-style log, the divergence guard,
BatchNorm re-estimation and the final test."""
import contextlib
import time
from dataclasses import dataclass

from caffe_compat.proto import caffe_pb2
from caffe_compat.solvers import get_solver
from prototxt.io import read_solver
from solver import log as glog
from solver.recovery import DivergenceGuard

from .averaging import WeightAverage
from .budget import PlateauStop
from .lr_probe import probe_lr
from .options import LR_DECAY_FACTOR


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


def final_test(solver, net_path, passes, what="the test split", weights_of=None):
    """The report's one look at the test split: ``net_path`` in plain TEST phase (its test
    split data layer), sharing the solver's trained weights, averaged over ``passes``
    batches. Logged as ``Final test on ...: name = value`` lines (not Caffe's ``Test net
    output``, so a log parser's test curve stays the held-out passes)."""
    from caffe_compat.net import Net
    from caffe_compat.solvers.testing import output_scores

    weights_of = solver.iter if weights_of is None else weights_of
    net = Net(net_path, phase=caffe_pb2.TEST)
    net.share_trained_layers_with(solver.net)
    sums = None
    for _ in range(passes):
        net.forward()
        values = [(name, float(v)) for name, v, _ in output_scores(net)]
        sums = values if sums is None else [(n, s + v) for (n, s), (_, v) in zip(sums, values)]
    means = {name: total / passes for name, total in (sums or [])}
    for name, value in means.items():
        glog.info(glog.DISTILL_SETUP, f"Final test on {what} (weights of iteration "
                                      f"{weights_of}): {name} = {value:.6g}")
    return means


def train(solver_path, log_path, mode="w", recover=False, bn_passes=0, patience=0,
          report_test=None, lr_probe=None, lr_decays=0, average=0):
    """Run ``solver_path`` with the numpy solver, its log in ``log_path`` (``mode`` "a":
    after lines already there). ``recover``: a DivergenceGuard rolls a diverging run back
    and lowers the rate instead of stopping. ``bn_passes``: re-estimate the BatchNorm
    statistics over that many training batches before the final test
    (``recalibrate_batchnorm``). ``patience``: stop when the held-out agreement has not
    improved for that many test passes (budget.PlateauStop; 0: run to max_iter), and
    keep the best pass's weights; ``lr_decays``: the first that many plateaus put the best
    weights back and divide the rate by 10 instead of stopping. ``report_test`` = (net path, passes, what): the scores
    come from ``final_test`` on that net (the test split) instead of the solver's test net,
    whose passes then only decide the stop (the held-out slice). ``lr_probe`` =
    (candidate rates, iterations, the run's warm-up): base_lr is chosen by
    lr_probe.probe_lr first. ``average``: the decay of an exponential moving average of
    the weights (averaging.WeightAverage; 0: none), which the test passes score and which
    is kept in the end.
    Returns a TrainResult: the solver, the final test outputs {name: value}, the training
    seconds, the guard's rollbacks and the plateau stop's record (it unpacks as
    ``solver, scores, seconds``)."""
    param = read_solver(solver_path)
    with logging_to(log_path, mode):
        glog.info(glog.CAFFE_USE_CPU, "Use CPU.")
        solver = get_solver(param)
        start = time.time()
        probed = None
        if lr_probe is not None:
            probed = probe_lr(solver, *lr_probe)
        guard = None
        if recover:
            guard = DivergenceGuard(solver)
        averaged = WeightAverage(solver, average) if average else None
        plateau = PlateauStop(solver, patience, decays=lr_decays, factor=LR_DECAY_FACTOR,
                              average=averaged)
        glog.info(glog.CAFFE_STARTING, "Starting Optimization")
        solver.solve()
        secs = time.time() - start
        if patience > 0 and solver.test_nets:
            if solver.last_test_scores.get(0, (None,))[0] != solver.iter:
                solver.test(0)   # the held-out pass of the final weights, where none ran
            plateau.finish(solver)
        if averaged is not None and plateau.restored is None:
            averaged.apply()
            glog.info(glog.DISTILL_SETUP, f"The weight average (decay {average:g}) of "
                                          f"iteration {solver.iter} put into the net")
        scores = {}
        recalibrated = 0
        if bn_passes:
            recalibrated = recalibrate_batchnorm(solver.net, bn_passes)
            if recalibrated:
                glog.info(glog.DISTILL_SETUP,
                          f"BatchNorm statistics of {recalibrated} layers re-estimated over "
                          f"{bn_passes} training batches with the final weights")
        if report_test is not None:
            scores = final_test(solver, *report_test, weights_of=(
                plateau.restored if plateau.restored is not None else solver.iter))
        elif solver.test_nets:
            it, means = solver.last_test_scores.get(0, (None, None))
            # The final test only runs when test_interval divides max_iter; after a
            # re-estimation the statistics changed since.
            if it != solver.iter or recalibrated:
                means = solver.test(0)
            scores = dict(means)
        glog.info(glog.CAFFE_DONE, "Optimization Done.")
    return TrainResult(solver, {k: float(v) for k, v in scores.items()}, secs,
                       list(guard.rollbacks) if guard else [], plateau.as_dict(),
                       None if probed is None else
                       [{"lr": t.lr, "accepted": t.accepted, "why": t.why} for t in probed[1]],
                       None if averaged is None else averaged.as_dict())


@dataclass
class TrainResult:
    solver: object
    scores: dict
    seconds: float
    rollbacks: list      # (iteration, reason, old lr, new lr) per rollback of the guard
    budget: dict = None  # PlateauStop.as_dict(): the passes seen, where it stopped
    lr_probe: list = None   # the learning-rate probe's trials (None: the rate was given)
    average: dict = None    # WeightAverage.as_dict() (None: the weights were not averaged)

    def __iter__(self):
        return iter((self.solver, self.scores, self.seconds))
