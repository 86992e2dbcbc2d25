"""Solver::Test: a test net's outputs averaged over ``test_iter`` passes and logged, and the
output lines of Caffe's display (``Train net output`` / ``Test net output``)."""
import numpy as np

from .. import glog as log
from ..glog import fmt_num
from . import signals

f32 = np.float32


def run_test(solver, test_net_id=0):
    """Solver::Test: mean of the outputs over ``test_iter`` forward passes, logged."""
    p = solver.param
    log.info(log.SOLVER_TESTING, f"Iteration {solver.iter}, Testing net (#{test_net_id})")
    net = solver.test_nets[test_net_id]
    net.share_trained_layers_with(solver.net)
    scores = None
    loss = f32(0)
    n = p.test_iter[test_net_id]
    for _ in range(n):
        request = signals.requested_action(solver)
        while request != signals.NONE:
            if request == signals.SNAPSHOT:
                # Taken once the pass is over (Solver.test), after the after_test
                # callbacks: a callback may have put other weights into the net for the
                # pass (a weight average), and a snapshot is the training state.
                solver.snapshot_after_test = True
            elif request == signals.STOP:
                solver.requested_early_exit = True
            request = signals.requested_action(solver)
        if solver.requested_early_exit:
            break
        iter_loss = f32(net.forward_from_to(0, len(net.layers) - 1))
        if p.test_compute_loss:
            loss += iter_loss
        values = output_scores(net)
        if scores is None:
            scores = [(name, f32(v), w) for name, v, w in values]
        else:
            scores = [(name, f32(s + v), w) for (name, s, w), (_, v, _) in zip(scores, values)]
    if solver.requested_early_exit:
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
                 f"{fmt_num(mean)}{loss_note(weight, mean)}")
    solver.last_test_scores[test_net_id] = (solver.iter, means)
    return means


def output_scores(net):
    """[(output name, value as float32, loss weight)] for every element of every output blob."""
    weights = net.blob_loss_weights
    out = []
    for name in net.outputs:
        data = np.asarray(net.blobs[name].data, dtype=np.float32).ravel()
        for value in data:
            out.append((name, f32(value), weights.get(name, 0.0)))
    return out


def loss_note(weight, value):
    if not weight:
        return ""
    return f" (* {fmt_num(f32(weight))} = {fmt_num(f32(weight) * f32(value))} loss)"
