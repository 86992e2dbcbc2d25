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


def decided(times, rounds=3):
    """A Pick decided on the given {name: [seconds of the timed rounds]}."""
    pick = engines.Pick(list(times), rounds=rounds)
    for name, ts in times.items():
        pick.times[name] = list(ts)
    pick.chosen = min(times, key=lambda n: min(times[n]))
    return pick


def test_a_pick_informed_by_another_thread_count_drops_the_slow_candidates(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(engines.time, "perf_counter", clock)
    done = decided({"ort": [1.0, 1.1], "gemm": [1.4, 1.45], "mixed": [1.6, 1.7], "caffe": [3.0, 2.9]})
    pick = engines.Pick(["ort", "gemm", "mixed", "caffe"], rounds=3)
    pick.informed_by(done)
    # mixed (1.6) and caffe (2.9) are over 1.5 x 1.0: never called at this count.
    assert pick.names == ["ort", "gemm"] and pick.chosen is None
    cost = {"ort": lambda i: 2.0, "gemm": lambda i: 1.0,
            "mixed": lambda i: pytest.fail("dropped"), "caffe": lambda i: pytest.fail("dropped")}
    ran = run_calls(pick, cost, clock, 8)
    assert ran[:6] == ["ort", "gemm"] * 3 and pick.chosen == "gemm"   # timed here, gemm wins
    assert ran[6:] == ["gemm", "gemm"]
    # Only once, and not once decided.
    pick.informed_by(decided({"caffe": [0.1], "ort": [5.0]}))
    assert pick.chosen == "gemm"


def test_a_trial_turn_borrows_the_decided_kernel_and_times_only_if_the_count_is_kept(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(engines.time, "perf_counter", clock)
    done = decided({"ort": [1.0], "gemm": [1.2], "caffe": [3.0]})
    pick = engines.Pick(["ort", "gemm", "caffe"], rounds=3)
    cost = {"ort": lambda i: 2.0, "gemm": lambda i: 1.0, "caffe": lambda i: pytest.fail("dropped")}
    try:
        engines.set_exploring(True)      # a thread trial's turn at another count
        pick.informed_by(done)
        before = engines.timing_calls()
        assert pick.chosen == "ort" and pick.provisional == ["ort", "gemm"]
        assert run_calls(pick, cost, clock, 3) == ["ort"] * 3
        assert engines.timing_calls() == before         # nothing timed: the turn is settled
    finally:
        engines.set_exploring(False)
    # The count is kept: the first call outside a trial turn times the close candidates.
    ran = run_calls(pick, cost, clock, 8)
    assert ran[:6] == ["ort", "gemm"] * 3 and pick.chosen == "gemm" and ran[6:] == ["gemm"] * 2
    assert pick.provisional is None
    # A provisional Pick informs nothing (it timed nothing).
    borrowed = engines.Pick(["ort", "gemm"])
    try:
        engines.set_exploring(True)
        borrowed.informed_by(done)
    finally:
        engines.set_exploring(False)
    other = engines.Pick(["ort", "gemm"])
    other.informed_by(borrowed)
    assert other.names == ["ort", "gemm"] and other.chosen is None


def test_one_candidate_left_is_kept_without_timing():
    done = decided({"depthwise": [1.0], "ort": [2.0]})
    pick = engines.Pick(["depthwise", "ort"])
    before = engines.timing_calls()
    pick.informed_by(done)
    assert pick.chosen == "depthwise"
    assert pick.run({"depthwise": lambda: None, "ort": lambda: pytest.fail("dropped")}) == "depthwise"
    assert engines.timing_calls() == before
    # An undecided or missing Pick informs nothing; a record for a dropped name is ignored.
    fresh = engines.Pick(["a", "b"])
    fresh.informed_by(engines.Pick(["a", "b"]))
    fresh.informed_by(None)
    assert fresh.names == ["a", "b"] and not fresh.informed
    narrowed = engines.Pick(["a", "b", "c"])
    narrowed.informed_by(decided({"a": [1.0], "b": [1.2], "c": [9.0]}))
    narrowed.record("c", 0.001)
    assert narrowed.times == {"a": [], "b": []}


def test_a_single_pass_runs_the_first_candidate_and_one_candidate_needs_no_timing():
    pick = engines.Pick(["ort", "caffe"])
    assert pick.run({"ort": lambda: None, "caffe": lambda: pytest.fail("not first")}) == "ort"
    only = engines.Pick(["depthwise"])
    assert only.chosen == "depthwise"
    assert only.run({"depthwise": lambda: None}) == "depthwise"
