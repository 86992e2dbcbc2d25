"""The weight average of the distill job (solver/distill/averaging.py): an exponential moving
average of every blob, scored by the test passes and kept in the end. Checked against a
plain loop over the recorded iterates, on scripted solvers and on a real solver whose test
loss is worked out by hand from the averaged weights."""
from types import SimpleNamespace

import numpy as np
import pytest

from caffe_compat.errors import CaffeError
from solver.distill.averaging import WeightAverage
from solver.distill.budget import PlateauStop
from solver.distill.options import DistillOptions


def plain_average(iterates, decay):
    """avg_0 = w_0; avg_k = d_k avg_{k-1} + (1 - d_k) w_k, d_k = min(decay, (k)/(9 + k)),
    one float64 scalar at a time."""
    out = []
    for k, w in enumerate(iterates):
        w = np.asarray(w, np.float64).ravel()
        if k == 0:
            avg = w.copy()
        else:
            d = min(decay, k / (9.0 + k))
            avg = np.array([d * a + (1 - d) * x for a, x in zip(avg, w)])
        out.append(avg)
    return out


class FakeSolver:
    """What WeightAverage and PlateauStop read: callbacks by kind, iter, the net's layers'
    blobs (one blob shared by two layers), last_test_scores, param, history, base_lr."""

    def __init__(self, max_iter=10000, test_interval=500):
        shared = SimpleNamespace(data=np.zeros(3, np.float32))
        self.net = SimpleNamespace(layers=[
            SimpleNamespace(blobs=[SimpleNamespace(data=np.zeros((2, 2), np.float32)), shared]),
            SimpleNamespace(blobs=[]),
            SimpleNamespace(blobs=[shared, SimpleNamespace(data=np.zeros(1, np.float32))])])
        self.iter = 0
        self.cbs = {"on_start": [], "before_test": [], "after_test": []}
        self.param = SimpleNamespace(max_iter=max_iter, test_interval=test_interval)
        self.last_test_scores = {}
        self.requested_early_exit = False
        self.history = [np.ones(2)]
        self.base_lr = 0.01

    def add_callback(self, on_start=None, before_test=None, after_test=None, **_):
        for kind, fn in (("on_start", on_start), ("before_test", before_test),
                         ("after_test", after_test)):
            if fn is not None:
                self.cbs[kind].append(fn)

    def set_progress_note(self, *a, **k):
        pass

    def blobs(self):
        seen, out = set(), []
        for layer in self.net.layers:
            for b in layer.blobs:
                if id(b) not in seen:
                    seen.add(id(b))
                    out.append(b)
        return out

    def set_weights(self, it, rng):
        self.iter = it
        values = []
        for b in self.blobs():
            b.data[...] = rng.standard_normal(b.data.shape).astype(np.float32)
            values.append(b.data.ravel().astype(np.float64))
        return np.concatenate(values)

    def start(self):
        for fn in self.cbs["on_start"]:
            fn()

    def test(self, agreement=None, seen=None):
        for fn in self.cbs["before_test"]:
            fn()
        if seen is not None:
            seen.append(np.concatenate([b.data.ravel().astype(np.float64)
                                        for b in self.blobs()]))
        if agreement is not None:
            self.last_test_scores[0] = (self.iter, [("agreement_top1", agreement)])
        for fn in self.cbs["after_test"]:
            fn()


def flat(arrays):
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])


@pytest.mark.parametrize("decay, steps", [(0.9, 40), (0.999, 30), (0.5, 12)])
def test_average_matches_a_plain_loop(decay, steps):
    rng = np.random.default_rng(3)
    s = FakeSolver()
    iterates = [s.set_weights(0, rng)]
    avg = WeightAverage(s, decay)
    for it in range(1, steps):
        iterates.append(s.set_weights(it, rng))
        s.start()
        s.start()   # a second call at the same iteration folds nothing
    want = plain_average(iterates, decay)[-1]
    np.testing.assert_allclose(flat(avg.avg), want, rtol=2e-5, atol=2e-6)
    assert len(avg.avg) == 3   # the shared blob counted once


def test_a_test_pass_scores_the_average_and_gives_the_weights_back():
    rng = np.random.default_rng(4)
    s = FakeSolver()
    iterates = [s.set_weights(0, rng)]
    WeightAverage(s, 0.9)
    for it in range(1, 9):
        iterates.append(s.set_weights(it, rng))
        s.start()
    iterates.append(s.set_weights(9, rng))   # the test at 9 comes before 9's on_start
    trained = [b.data.copy() for b in s.blobs()]
    seen = []
    s.test(seen=seen)
    np.testing.assert_allclose(seen[0], plain_average(iterates, 0.9)[-1], rtol=2e-5,
                               atol=2e-6)
    for b, w in zip(s.blobs(), trained):   # bit for bit
        assert np.array_equal(b.data, w)
    s.start()   # 9 already folded by the test: no second fold
    seen2 = []
    s.test(seen=seen2)
    np.testing.assert_array_equal(seen[0], seen2[0])


def test_a_rollback_restarts_the_average():
    rng = np.random.default_rng(5)
    s = FakeSolver()
    s.set_weights(0, rng)
    avg = WeightAverage(s, 0.99)
    for it in range(1, 20):
        s.set_weights(it, rng)
        s.start()
    back = s.set_weights(10, rng)   # the divergence guard put iteration 10's state back
    s.start()
    np.testing.assert_array_equal(flat(avg.avg), back)
    assert avg.restarts == 1 and avg.updates == 0
    nxt = s.set_weights(11, rng)
    s.start()
    np.testing.assert_allclose(flat(avg.avg), 0.1 * back + 0.9 * nxt, rtol=1e-5, atol=1e-6)


def test_plateau_stop_keeps_restores_and_restarts_the_average():
    """Passes at 500..2500 (patience 2, one decay): the best pass's copy is the average's,
    the decay puts it back and starts the average from it, and finish() puts the best
    average into the net even when the best pass is the last iteration."""
    rng = np.random.default_rng(6)
    s = FakeSolver(max_iter=3000)
    s.set_weights(0, rng)
    avg = WeightAverage(s, 0.9)
    stop = PlateauStop(s, patience=2, decays=1, factor=0.1, average=avg)
    scored = {}
    curve = {500: 0.95, 1000: 0.97, 1500: 0.96, 2000: 0.965, 2500: 0.98, 3000: 0.975}
    for it in range(1, 3001):
        s.set_weights(it, rng)
        if it in curve:
            seen = []
            s.test(curve[it], seen)
            scored[it] = seen[0]
        s.start()
        if it == 2000:   # the decay at 2000 restored 1000's average
            assert stop.decays and stop.decays[0][:2] == (2000, 1000)
            np.testing.assert_array_equal(flat(b.data for b in s.blobs()), scored[1000])
            np.testing.assert_array_equal(flat(avg.avg), scored[1000])
            assert avg.restarts == 1
    assert stop.finish(s) == 2500
    np.testing.assert_array_equal(flat(b.data for b in s.blobs()), scored[2500])
    assert s.base_lr == pytest.approx(0.001)


def test_finish_puts_the_average_in_even_at_the_last_iteration():
    rng = np.random.default_rng(7)
    s = FakeSolver(max_iter=1000)
    s.set_weights(0, rng)
    avg = WeightAverage(s, 0.9)
    stop = PlateauStop(s, patience=3, average=avg)
    seen = []
    for it in range(1, 1001):
        s.set_weights(it, rng)
        if it in (500, 1000):
            s.test(0.9 + it / 1e5, seen)
        s.start()
    assert stop.finish(s) == 1000 and stop.restored == 1000
    np.testing.assert_array_equal(flat(b.data for b in s.blobs()), seen[-1])


SOLVER = """
base_lr: 0.1
lr_policy: "fixed"
momentum: 0.9
max_iter: 12
test_iter: 1
test_interval: 4
test_initialization: false
display: 0
snapshot_after_train: false
random_seed: 5
net_param {
  name: "avg"
  layer { name: "data" type: "DummyData" top: "data" top: "label"
    dummy_data_param { shape { dim: 8 dim: 3 } shape { dim: 8 }
      data_filler { type: "constant" value: 0.3 } data_filler { type: "constant" value: 1 } } }
  layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
    inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 }
      bias_filler { type: "constant" value: 0.1 } } }
  layer { name: "ip2src" type: "DummyData" top: "ip2"
    dummy_data_param { shape { dim: 8 dim: 2 } data_filler { type: "constant" value: 0.5 } } }
  layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "ip2" top: "loss" }
}
"""


def test_real_solver_tests_the_average(tmp_path):
    """A real SGD solver: the iterates are recorded at every on_start; each test pass's
    weights (seen by a before_test callback registered after the average) are the plain
    loop's average of them, its loss is the average's (worked out by hand), the trained
    weights come back after it, and ``apply`` leaves the average in the net."""
    from caffe_compat.solvers import get_solver
    from prototxt.io import read_solver

    path = tmp_path / "solver.prototxt"
    path.write_text(SOLVER)
    solver = get_solver(read_solver(str(path)))

    def weights():
        return flat(b.data for layer in solver.net.layers for b in layer.blobs)

    iterates = {solver.iter: weights()}
    avg = WeightAverage(solver, 0.8)
    solver.add_callback(on_start=lambda: iterates.setdefault(solver.iter, weights()))
    during, after = {}, {}
    solver.add_callback(before_test=lambda: during.setdefault(solver.iter, weights()),
                        after_test=lambda: after.setdefault(solver.iter, weights()))
    solver.solve()
    assert sorted(during) == [4, 8, 12]
    for it in (4, 8, 12):
        seq = [iterates[k] for k in range(it)] + [after[it]]
        want = plain_average(seq, 0.8)[-1]
        np.testing.assert_allclose(during[it], want, rtol=1e-5, atol=1e-6)
        assert not np.allclose(after[it], during[it])
    # the last pass's loss by hand: x = 0.3 everywhere, target 0.5, W (2 x 3) then b (2)
    w, b = want[:6].reshape(2, 3), want[6:]
    ip = 0.3 * w.sum(axis=1) + b
    loss = 8 * ((ip - 0.5) ** 2).sum() / (2 * 8)
    it, means = solver.last_test_scores[0]
    assert it == 12 and dict(means)["loss"] == pytest.approx(loss, rel=1e-5)
    np.testing.assert_array_equal(weights(), after[12])
    avg.apply()
    np.testing.assert_allclose(weights(), want, rtol=1e-5, atol=1e-6)


def test_average_option_is_checked():
    assert DistillOptions(["t.onnx"]).resolved().average == 0.0
    assert DistillOptions(["t.onnx"], average=0.999).resolved().average == 0.999
    for bad in (1.0, -0.1, 2):
        with pytest.raises(CaffeError, match="--average must be in"):
            DistillOptions(["t.onnx"], average=bad).resolved()


def test_cli_average_saves_the_averaged_student(tmp_path, capsys):
    """``tscaffe distill --average 0.99`` end to end: the report records the average, the
    log says the averaged weights were restored, and the saved student is not the last
    iterate (the solver's own snapshot at the end) but still agrees with the teacher."""
    import json

    import caffe_compat as caffe
    from conftest import DATASETS, TEACHERS, need
    from solver.cli import main

    teacher = need(TEACHERS / "advertorch_lenet5_clean.onnx")
    data = need(DATASETS / "mnist")
    out = tmp_path / "run"
    rc = main(["distill", "--teacher", str(teacher), "--data", str(data), "--no-labels",
               "--iterations", "300", "--subset", "6400,1000", "--average", "0.99",
               "-o", str(out)])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    values = dict(kv.split("=") for kv in last.split())
    assert float(values["agreement"]) > 0.97, last
    report = json.loads((out / "distill_report.json").read_text())
    assert report["average"]["decay"] == 0.99 and report["average"]["updates_since_restart"] > 0
    assert "Restored the averaged weights of iteration" in (out / "distill.log").read_text()
    student = caffe.Net(str(out / "distill_student.prototxt"), caffe.TEST,
                        weights=str(out / "distill_student.caffemodel"))
    last_iterate = sorted(out.glob("distill_ts_iter_*.caffemodel"))[-1]
    raw = caffe.Net(str(out / "distill_student.prototxt"), caffe.TEST,
                    weights=str(last_iterate))
    name = next(n for n in student.params if student.params[n])
    assert not np.allclose(student.params[name][0].data, raw.params[name][0].data)
    with pytest.raises(SystemExit):
        main(["distill", "--average", "x"])


def test_sighup_during_an_averaged_pass_snapshots_the_trained_weights(tmp_path):
    """A SIGHUP that arrives while a test pass scores the average (the signal is queued as
    the solver's handler queues it) snapshots the training state: the caffemodel written at
    that iteration holds the trained weights that come back after the pass, not the
    average the pass saw; training then goes on to the end."""
    import signal

    from caffe_compat.io import load_caffemodel_arrays
    from caffe_compat.solvers import get_solver
    from prototxt.io import read_solver

    path = tmp_path / "solver.prototxt"
    path.write_text(SOLVER + f'snapshot_prefix: "{tmp_path / "run"}"\n')
    solver = get_solver(read_solver(str(path)))

    def weights():
        return flat(b.data for layer in solver.net.layers for b in layer.blobs)

    WeightAverage(solver, 0.8)
    during, after = {}, {}

    def hangup():
        during[solver.iter] = weights()
        if solver.iter == 8:
            solver.signals_received.append(signal.SIGHUP)

    solver.add_callback(before_test=hangup,
                        after_test=lambda: after.setdefault(solver.iter, weights()))
    solver.solve()
    assert solver.iter == 12 and sorted(during) == [4, 8, 12]
    saved = sorted(p.name for p in tmp_path.glob("run_iter_*.caffemodel"))
    assert saved == ["run_iter_8.caffemodel"]
    layers = load_caffemodel_arrays(str(tmp_path / saved[0]))
    got = flat(a for name in ("ip",) for a in layers[name])
    np.testing.assert_array_equal(got, after[8])
    assert not np.allclose(got, during[8])
