"""The distill job's budget (issue 23): the run stops when the held-out agreement has not
improved for ``patience`` test passes, up to the cap; the rate warms up over a tenth of the
cap (at most 500 iterations). The stop rule is checked on scripted test passes against
the stopping points worked out by hand, and the solver's loop on a real net."""
from types import SimpleNamespace

import numpy as np
import pytest

from caffe_compat.errors import CaffeError
from conftest import CAFFE_REF, need
from solver.distill.budget import PlateauStop
from solver.distill.options import DistillOptions


class ScriptedSolver:
    """Only what PlateauStop reads: callbacks, iter, last_test_scores, param (max_iter,
    test_interval) and a net whose two layers' blobs hold the iteration they were set at."""

    def __init__(self, max_iter, test_interval=500):
        self.param = SimpleNamespace(max_iter=max_iter, test_interval=test_interval)
        self.callbacks = []
        self.iter = 0
        self.last_test_scores = {}
        self.requested_early_exit = False
        self.net = SimpleNamespace(layers=[
            SimpleNamespace(blobs=[SimpleNamespace(data=np.zeros((2, 3)))]),
            SimpleNamespace(blobs=[]),
            SimpleNamespace(blobs=[SimpleNamespace(data=np.zeros(4)),
                                   SimpleNamespace(data=np.zeros(1))])])
        self.notes = []
        self.ends = []

    def add_callback(self, on_start=None, **_):
        self.callbacks.append(on_start)

    def set_progress_note(self, text, end=None):
        self.notes.append(text)
        self.ends.append(end)

    def weights(self):
        return sorted({float(v) for layer in self.net.layers for b in layer.blobs
                       for v in b.data.ravel()})

    def test_pass(self, it, agreement):
        self.iter = it
        for layer in self.net.layers:   # "training" moved every weight to the iteration
            for b in layer.blobs:
                b.data[...] = it
        self.last_test_scores[0] = (it, [("agreement_top1", agreement), ("kl", 0.1)])
        for cb in self.callbacks:
            cb()
            cb()   # called again at the same iteration: counts once


@pytest.mark.parametrize("curve, patience, stop", [
    # best 0.990 at 1000; 1500, 2000, 2500 not better -> stops at 2500 with patience 3
    ([0.98, 0.99, 0.989, 0.99, 0.985], 3, 2500),
    ([0.98, 0.99, 0.989, 0.99, 0.985], 4, None),
    ([0.98, 0.981, 0.982, 0.983, 0.984], 1, None),      # always improving
    ([0.98, 0.97, 0.99, 0.98, 0.98], 2, 2500),          # the best moved to 1500
    ([0.98, 0.97, 0.96, 0.95, 0.94], 0, None),          # patience 0: never
])
def test_plateau_stop_rule(curve, patience, stop):
    solver = ScriptedSolver(max_iter=100000)
    rule = PlateauStop(solver, patience)
    for k, value in enumerate(curve, start=1):
        if solver.requested_early_exit:
            break
        solver.test_pass(500 * k, value)
    assert rule.stopped_at == stop
    assert solver.requested_early_exit == (stop is not None)


def test_plateau_stop_forgets_passes_after_a_rollback():
    solver = ScriptedSolver(max_iter=100000)
    rule = PlateauStop(solver, 2)
    solver.test_pass(500, 0.99)
    solver.test_pass(1000, 0.98)
    solver.test_pass(500, 0.97)     # the guard rolled back before 500: both passes are gone
    assert not solver.requested_early_exit and rule.best == (500, 0.97)
    solver.test_pass(1000, 0.96)
    assert not solver.requested_early_exit
    solver.test_pass(1500, 0.965)
    assert rule.stopped_at == 1500 and rule.passes == [(500, 0.97), (1000, 0.96), (1500, 0.965)]


def test_plateau_stop_never_at_the_cap():
    solver = ScriptedSolver(max_iter=1500)
    rule = PlateauStop(solver, 1)
    for it, value in ((500, 0.99), (1000, 0.99), (1500, 0.98)):
        solver.test_pass(it, value)
        if solver.requested_early_exit:
            break
    assert rule.stopped_at == 1000


def test_solver_loop_stops_when_an_observer_asks(tmp_path):
    """A real solver: an on_start callback setting requested_early_exit at iteration 7 ends
    solve() there (max_iter 20), before that iteration's forward pass."""
    from caffe_compat.solvers import get_solver
    from prototxt.io import read_solver

    folder = need(CAFFE_REF / "solvers/sgd_inv")
    path = tmp_path / "solver.prototxt"
    path.write_text(f'net: "{folder / "net.prototxt"}"\nbase_lr: 0.01\nlr_policy: "fixed"\n'
                    f'max_iter: 20\ndisplay: 0\nsnapshot_after_train: false\n')
    solver = get_solver(read_solver(str(path)))
    forwards = []
    solver.add_callback(before_forward=lambda: forwards.append(solver.iter))

    def ask():
        if solver.iter == 7:
            solver.requested_early_exit = True

    solver.add_callback(on_start=ask)
    solver.solve()
    assert solver.iter == 7 and forwards == list(range(7))


@pytest.mark.parametrize("cap, interval, warmup", [(20000, 500, 500), (1000, 200, 100),
                                                   (40, 8, 4)])
def test_budget_defaults_follow_the_cap(cap, interval, warmup):
    opts = DistillOptions(["t.onnx"], iterations=cap).resolved()
    assert (opts.test_interval, opts.warmup, opts.patience) == (interval, warmup, 4)
    assert opts.solver_opts == {"lr_policy": "warmup_inv", "stepsize": warmup}


def test_budget_user_choices_win():
    opts = DistillOptions(["t.onnx"], patience=0, warmup=0).resolved()
    assert opts.iterations == 20000 and opts.patience == 0 and opts.solver_opts is None
    opts = DistillOptions(["t.onnx"], solver_opts={"lr_policy": "step", "stepsize": 9}).resolved()
    assert opts.solver_opts == {"lr_policy": "step", "stepsize": 9}
    with pytest.raises(CaffeError, match="--patience must be >= 0"):
        DistillOptions(["t.onnx"], patience=-1).resolved()


def test_best_pass_weights_are_restored_after_a_worse_later_pass():
    """Passes 0.98 @500, 0.99 @1000, 0.985 @1500, 0.97 @2000 with patience 2: the run stops
    at 2000 and finish() puts back the weights of 1000 (every blob of every layer)."""
    solver = ScriptedSolver(max_iter=100000)
    rule = PlateauStop(solver, 2)
    for it, value in ((500, 0.98), (1000, 0.99), (1500, 0.985), (2000, 0.97)):
        solver.test_pass(it, value)
    assert rule.stopped_at == 2000 and solver.weights() == [2000.0]
    assert rule.finish(solver) == 1000
    assert solver.weights() == [1000.0]
    assert rule.as_dict()["restored_iteration"] == 1000


def test_finish_keeps_the_last_weights_when_they_are_the_best_or_patience_is_zero():
    solver = ScriptedSolver(max_iter=1500)
    rule = PlateauStop(solver, 3)
    for it, value in ((500, 0.98), (1000, 0.985), (1500, 0.99)):
        solver.test_pass(it, value)
    assert rule.finish(solver) == 1500 and solver.weights() == [1500.0]
    assert rule.restored is None
    solver = ScriptedSolver(max_iter=1500)
    rule = PlateauStop(solver, 0)
    for it, value in ((500, 0.99), (1000, 0.90), (1500, 0.80)):
        solver.test_pass(it, value)
    assert rule.finish(solver) == 1500 and solver.weights() == [1500.0] and not rule.passes


def test_finish_counts_the_pass_at_the_cap():
    """The pass at max_iter runs after the loop (no on_start callback): finish() reads it;
    here it is worse than 1000's, so 1000's weights come back."""
    solver = ScriptedSolver(max_iter=1500)
    rule = PlateauStop(solver, 4)
    solver.test_pass(500, 0.98)
    solver.test_pass(1000, 0.99)
    solver.iter = 1500
    for layer in solver.net.layers:
        for b in layer.blobs:
            b.data[...] = 1500
    solver.last_test_scores[0] = (1500, [("agreement_top1", 0.95)])
    assert rule.finish(solver) == 1000 and solver.weights() == [1000.0]
    assert rule.passes[-1] == (1500, 0.95)


def test_a_rollback_drops_the_snapshot_taken_after_it():
    """Passes 0.97 @500, 0.99 @1000 (snapshot), then the guard rolls back before 500: the
    new pass at 500 (0.96) is the best of the new trajectory and its weights, not the old
    1000's, come back after a worse 1000."""
    solver = ScriptedSolver(max_iter=100000)
    rule = PlateauStop(solver, 5)
    solver.test_pass(500, 0.97)
    solver.test_pass(1000, 0.99)
    for layer in solver.net.layers:   # the rolled-back weights differ from the first 500's
        for b in layer.blobs:
            b.data[...] = -1
    solver.iter = 500
    solver.last_test_scores[0] = (500, [("agreement_top1", 0.96)])
    for cb in solver.callbacks:
        cb()
    assert rule.best == (500, 0.96)
    solver.test_pass(1000, 0.95)
    assert rule.finish(solver) == 500 and solver.weights() == [-1.0]


def test_progress_note_says_where_the_run_ends_without_improvement():
    solver = ScriptedSolver(max_iter=20000)
    PlateauStop(solver, 4)
    solver.test_pass(500, 0.98)
    assert solver.notes[-1].startswith("train (ends at 2500 unless held-out agreement improves")
    solver.test_pass(1000, 0.97)
    assert "ends at 2500" in solver.notes[-1] and "at most 20000" in solver.notes[-1]
    solver.test_pass(1500, 0.99)
    assert "ends at 3500" in solver.notes[-1]
    assert solver.ends == [2500, 2500, 3500]   # the bar's ETA counts to there


def test_the_progress_bar_counts_to_the_end_it_is_given(monkeypatch):
    import io
    import sys

    from caffe_compat import glog

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    with glog.progress(total=20000) as bar:
        assert bar.bar is not None and bar.bar.total == 20000
        bar.update(500)
        bar.set_total(2500)
        assert bar.bar.total == 2500 and bar.bar.n == 500
    monkeypatch.setattr(sys, "stdout", io.StringIO())   # no terminal: no bar, no error
    with glog.progress(total=10) as none:
        none.set_total(5)
        assert none.bar is None and none.total == 5


class DecaySolver(ScriptedSolver):
    """A ScriptedSolver with a rate and a momentum history, as PlateauStop's decay reads."""

    def __init__(self, max_iter, base_lr=0.01):
        super().__init__(max_iter)
        self.base_lr = base_lr
        self.history = [np.ones(3), np.ones(2)]


def plain_plateau_decay(curve, patience, decays, interval=500):
    """A plain reading of the rule: walk the passes, remember the best and where counting
    starts; at ``patience`` passes without a better one, decay (the best comes back) while
    decays are left, else stop. Returns (decay iterations with the restored one, stop)."""
    best_it, best, start, made = None, -1.0, 0, []
    for k, value in enumerate(curve, start=1):
        it = interval * k
        if value > best:
            best_it, best = it, value
            continue
        waited = len([j for j in range(1, k + 1) if interval * j > max(best_it, start)])
        if waited >= patience:
            if len(made) < decays:
                made.append((it, best_it))
                start = it
            else:
                return made, it
    return made, None


CURVES = [
    [0.90, 0.92, 0.91, 0.92, 0.93, 0.93, 0.92, 0.92, 0.94, 0.93, 0.93, 0.93, 0.93],
    [0.90, 0.89, 0.88, 0.91, 0.90, 0.90, 0.90, 0.905, 0.90, 0.90, 0.90, 0.90],
    [0.90, 0.91, 0.92, 0.93, 0.94, 0.95],
    [0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.89, 0.88, 0.87, 0.86],
]


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("patience, decays", [(2, 2), (3, 1), (1, 3), (2, 0)])
def test_plateau_decays_match_a_plain_reading(curve, patience, decays):
    solver = DecaySolver(max_iter=100000)
    rule = PlateauStop(solver, patience, decays=decays, factor=0.1)
    seen = []
    for k, value in enumerate(curve, start=1):
        if solver.requested_early_exit:
            break
        before = len(rule.decays)
        solver.test_pass(500 * k, value)
        if len(rule.decays) > before:   # this pass decayed: the best pass's weights are back
            seen.append((500 * k, rule.decays[-1][1]))
            assert solver.weights() == [float(rule.decays[-1][1])]
            assert all(not h.any() for h in solver.history)
            for h in solver.history:
                h[...] = 1
    made, stop = plain_plateau_decay(curve, patience, decays)
    assert seen == made and rule.stopped_at == stop
    assert solver.base_lr == pytest.approx(0.01 * 0.1 ** len(made))
    assert [d[2:] for d in rule.decays] == [
        (pytest.approx(0.01 * 0.1 ** i), pytest.approx(0.01 * 0.1 ** (i + 1)))
        for i in range(len(made))]


def test_a_decay_restores_the_best_pass_then_counts_patience_again():
    """Passes 0.90 @500, 0.92 @1000, then 0.91, 0.915 with patience 2: the lr decays at
    2000 (1000's weights back, lr 0.01 -> 0.001), no stop; 0.918, 0.919 after it: a second
    plateau, no decay left -> stops at 3000; finish() puts 1000's weights back."""
    solver = DecaySolver(max_iter=100000)
    rule = PlateauStop(solver, 2, decays=1)
    for it, value in ((500, 0.90), (1000, 0.92), (1500, 0.91), (2000, 0.915)):
        solver.test_pass(it, value)
    assert rule.decays == [(2000, 1000, 0.01, pytest.approx(0.001))]
    assert not solver.requested_early_exit and solver.weights() == [1000.0]
    assert "ends at 3000" in solver.notes[-1]
    solver.test_pass(2500, 0.918)
    assert not solver.requested_early_exit
    solver.test_pass(3000, 0.919)
    assert rule.stopped_at == 3000
    assert rule.finish(solver) == 1000 and solver.weights() == [1000.0]
    assert rule.as_dict()["lr_decays"] == [{"iteration": 2000, "restored": 1000,
                                            "lr_before": 0.01, "lr_after": pytest.approx(0.001)}]


def test_lr_decays_option():
    assert DistillOptions(["t.onnx"]).resolved().lr_decays == 2
    assert DistillOptions(["t.onnx"], lr_decays=0).resolved().lr_decays == 0
    with pytest.raises(CaffeError, match="--lr-decays must be >= 0"):
        DistillOptions(["t.onnx"], lr_decays=-1).resolved()
