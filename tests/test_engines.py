"""caffe_compat.engines.Pick: the fastest candidate, found by timing the real calls."""
import pytest

import caffe_compat.engines as engines


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_calls(pick, cost, clock, n):
    """``n`` calls through ``pick``; candidate ``name`` takes ``cost[name](i)`` seconds on call i."""
    ran = []
    for i in range(n):
        def make(name):
            def go():
                clock.now += cost[name](i)
            return go
        ran.append(pick.run({name: make(name) for name in cost}))
    return ran


def test_each_candidate_in_turn_then_the_fastest(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(engines.time, "perf_counter", clock)
    pick = engines.Pick(["ort", "mixed", "caffe"], rounds=3)
    cost = {"ort": lambda i: 3.0, "mixed": lambda i: 1.0, "caffe": lambda i: 2.0}
    ran = run_calls(pick, cost, clock, 12)
    assert ran[:9] == ["ort", "mixed", "caffe"] * 3
    assert pick.chosen == "mixed" and ran[9:] == ["mixed"] * 3


def test_the_warm_up_round_is_not_counted(monkeypatch):
    """The first round is not counted: ort's first call is slow (a session made, pages
    faulted in), caffe's first call is quick (its buffers happened to be warm), then ort is
    the faster."""
    clock = FakeClock()
    monkeypatch.setattr(engines.time, "perf_counter", clock)
    pick = engines.Pick(["ort", "caffe"], rounds=3)
    cost = {"ort": lambda i: 50.0 if i == 0 else 1.0, "caffe": lambda i: 0.1 if i == 1 else 2.0}
    run_calls(pick, cost, clock, 6)
    assert pick.chosen == "ort"


def test_a_single_pass_runs_the_first_candidate_and_one_candidate_needs_no_timing():
    pick = engines.Pick(["ort", "caffe"])
    assert pick.run({"ort": lambda: None, "caffe": lambda: pytest.fail("not first")}) == "ort"
    only = engines.Pick(["depthwise"])
    assert only.chosen == "depthwise"
    assert only.run({"depthwise": lambda: None}) == "depthwise"
