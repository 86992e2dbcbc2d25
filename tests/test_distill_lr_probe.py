"""The learning-rate probe (solver.distill.lr_probe): the trial rule on loss curves written
by hand, and the probe on a real LeNet solver, where a rate of 5 blows the loss up and
0.01 brings it down (Caffe's own LeNet rate), the initial state coming back afterwards."""
import math

import numpy as np
import pytest

from conftest import CAFFE_REF, need
from solver.distill.lr_probe import judge, probe_lr
from solver.distill.options import DistillOptions


@pytest.mark.parametrize("losses, ok, words", [
    ([2.3, 2.2, 2.0, 1.9, 1.7, 1.5, 1.4, 1.2], True, "came down from 2.25 to 1.3"),
    ([2.3, 2.2, 3.6, 1.9, 1.7, 1.5, 1.4, 1.2], False, "rose to 3.6"),     # a spike > 1.5x
    ([2.3, 2.2, 2.4, 2.3, 2.25, 2.3, 2.3, 2.26], False, "did not come down"),
    ([2.3, 2.2, 2.0, math.nan], False, "diverged"),
    ([2.3, 2.2, 2.0, math.inf], False, "diverged"),
    ([], False, "diverged"),
])
def test_trial_rule(losses, ok, words):
    accepted, why = judge(losses)
    assert accepted == ok and words in why, why


@pytest.fixture
def lenet_solver(tmp_path):
    from caffe_compat.solvers import get_solver
    from prototxt.io import read_solver

    folder = need(CAFFE_REF / "solvers/sgd_inv")
    path = tmp_path / "solver.prototxt"
    path.write_text(f'net: "{folder / "net.prototxt"}"\nbase_lr: 0.01\nlr_policy: "inv"\n'
                    f'gamma: 0.0001\npower: 0.75\nmomentum: 0.9\nmax_iter: 100\ndisplay: 5\n'
                    f'snapshot_after_train: false\nrandom_seed: 3\n')
    solver = get_solver(read_solver(str(path)))
    batches = np.load(folder / "batches.npz")
    fed = []

    def feed():
        k = len(fed) % len(batches["data"])
        solver.net.blobs["data"].data[...] = batches["data"][k]
        solver.net.blobs["label"].data[...] = batches["label"][k]
        fed.append(k)

    solver.add_callback(before_forward=feed)
    return solver, fed


def test_probe_rejects_a_blowing_up_rate_and_restores_the_start(lenet_solver):
    solver, fed = lenet_solver
    before = [b.data.copy() for layer in solver.net.layers for b in layer.blobs]
    chosen, trials = probe_lr(solver, [0.01, 5.0], 20)
    assert [t.lr for t in trials] == [5.0, 0.01]          # largest first
    assert not trials[0].accepted and trials[1].accepted, [t.why for t in trials]
    assert len(trials[1].losses) == 20 and len(fed) >= 21
    assert np.mean(trials[1].losses[-5:]) < np.mean(trials[1].losses[:5])
    assert chosen == 0.01 and solver.param.base_lr == pytest.approx(0.01)
    after = [b.data for layer in solver.net.layers for b in layer.blobs]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))   # the same start
    assert all(not np.any(h) for h in solver.history)                  # no momentum left
    assert solver.iter == 0 and solver.param.lr_policy == "inv"
    assert solver.param.display == 5 and solver.param.test_interval == 0
    solver.step(3)                      # the run then trains at the chosen rate
    assert solver.iter == 3 and math.isfinite(float(solver.loss))


def test_probe_takes_the_smallest_rate_when_none_passes(lenet_solver):
    solver, _ = lenet_solver
    chosen, trials = probe_lr(solver, [5.0, 2.0], 10)
    assert not any(t.accepted for t in trials) and chosen == 2.0
    assert solver.param.base_lr == pytest.approx(2.0)


def test_probe_only_when_the_rate_is_not_given():
    opts = DistillOptions(["t.onnx"]).resolved()
    assert opts.probe() == ([0.01, 0.005, 0.0025, 0.00125], 100, 500)
    assert DistillOptions(["t.onnx"], iterations=60).resolved().probe() == (
        [0.01, 0.005, 0.0025, 0.00125], 60, 6)
    assert DistillOptions(["t.onnx"], warmup=0).resolved().probe()[2] == 0
    assert DistillOptions(["t.onnx"], base_lr=0.02).resolved().probe() is None
    assert DistillOptions(["t.onnx"], lr_probe=False).resolved().probe() is None
