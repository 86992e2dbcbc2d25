"""The measured thread count (caffe_compat/thread_tuner.py, caffe_compat/parallel.py).

The tuner's decisions are driven here by synthetic machines: per-count iteration times that
change when a simulated competitor arrives or leaves, with seeded noise, and synthetic CPU
wait shares. The pinning rules run in fresh processes (the environment is read once), and a
net run while the count changes every iteration is compared bit for bit with a one-thread
run.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import caffe_compat.engines as engines
import caffe_compat.parallel as parallel
from caffe_compat import blas_threads
from caffe_compat.thread_tuner import (ThreadTuner, candidate_counts, parse_idle_ticks, parse_schedstat,
                                       read_idle_ticks, read_wait_ns)

QUIET = {1: 1.0, 2: 0.6}   # two threads faster on an idle machine
BUSY = {1: 1.5, 2: 4.0}    # two competitors: two threads collapse


def drive(tuner, machine, iterations, noise=0.0, seed=0, wait=None, idle=None):
    """Runs ``iterations`` simulated iterations; ``machine(i)`` gives {count: seconds} at
    iteration i, ``wait(i, count)`` the wait share, ``idle(i, count)`` the idle CPUs during
    it (None: not measured). Returns the counts used."""
    rng = np.random.default_rng(seed)
    used = []
    for i in range(iterations):
        n = tuner.count()
        used.append(n)
        seconds = machine(i)[n] * (1 + noise * rng.uniform(-1, 1))
        idle_cpus = idle(i, n) if idle else None
        tuner.record(seconds, wait(i, n) if wait else 0.0,
                     idle=None if idle_cpus is None else idle_cpus * seconds)
    return used


def test_candidates():
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [1, 2]
    assert candidate_counts(6) == [1, 2, 4, 6]
    assert candidate_counts(8) == [1, 2, 4, 8]


def test_quiet_machine_keeps_all_threads():
    t = ThreadTuner(2)
    used = drive(t, lambda i: QUIET, 100)
    assert t.chosen == 2 and used[-50:] == [2] * 50
    # What the trial cost: the warm-up and one turn at one thread (1.0 s is over 1.5 x 0.6 s:
    # pruned after that turn).
    assert used[:2] == [1, 1] and used.count(1) == t.warmup + 1
    assert len(t.history) == 1


def test_busy_machine_drops_to_one_thread_after_one_slow_iteration():
    t = ThreadTuner(2)
    used = drive(t, lambda i: BUSY, 100)
    assert t.chosen == 1
    # One trial turn at two threads (4.0 s, over 1.5 x 1.5 s); then pruned.
    assert used[:12].count(2) == 1
    # With no CPU wait seen, probes try two threads again, one pruned turn each, backed off.
    assert all(h[0].startswith("probe") for h in t.history[1:]) and all(h[1] == 1 for h in t.history)
    assert used.count(2) == len(t.history) <= 2


def test_busy_machine_with_cpu_wait_never_tries_more_threads():
    """The main thread waits a third of its time for a CPU at one thread (two competitors on
    two cores): no core is idle, so the trial does not run two threads at all."""
    t = ThreadTuner(2)
    used = drive(t, lambda i: BUSY, 100, wait=lambda i, n: 0.33)
    assert t.chosen == 1 and used.count(2) == 0 and len(t.history) == 1


def test_a_tie_goes_to_fewer_threads():
    t = ThreadTuner(2)
    drive(t, lambda i: {1: 1.0, 2: 0.99}, 40)
    assert t.chosen == 1


def test_competitors_arriving_and_leaving():
    t = ThreadTuner(2)
    machine = lambda i: BUSY if 200 <= i < 400 else QUIET  # noqa: E731
    # under load one thread waits a third of its time for a CPU (two competitors, 2 cores)
    used = drive(t, machine, 600, noise=0.05, wait=lambda i, n: 0.33 if 200 <= i < 400 else 0.0)
    assert used[190:200] == [2] * 10
    # Within a window, the gap and a trial of the load's arrival, one thread.
    switch = used.index(1, 200)
    assert switch - 200 <= t.window + t.max_gap
    assert used[250:400] == [1] * 150
    back = used.index(2, 400)
    assert back - 400 <= t.window + t.max_gap
    assert used[-100:] == [2] * 100
    reasons = [h[0] for h in t.history]
    assert any(r.startswith("slower") for r in reasons) and any(r.startswith(("faster", "probe")) for r in reasons)


def test_arrival_is_noticed_within_the_first_gap():
    t = ThreadTuner(2)
    used = drive(t, lambda i: BUSY if i >= 60 else QUIET, 120)
    switch = used.index(1, 60)
    assert switch - 60 <= t.window + 1  # the gap (min_gap) has long passed at iteration 60
    assert used[60:120].count(2) <= t.window + 1


def test_noise_does_not_keep_trialling():
    """+-20% jitter for 3000 iterations: a handful of trials, backed off, and the count stays."""
    for machine, best, wait in ((QUIET, 2, 0.0), (BUSY, 1, 0.33)):
        t = ThreadTuner(2)
        used = drive(t, lambda i: machine, 3000, noise=0.2, seed=1, wait=lambda i, n: wait)
        assert t.chosen == best
        assert len(t.history) <= 12, t.history
        assert used[-1000:].count(best) >= 990


def test_at_one_thread_a_slowdown_starts_no_trial():
    """More load never favours more threads: slower at one thread is not retried."""
    t = ThreadTuner(2)
    drive(t, lambda i: BUSY if i < 100 else {1: 3.0, 2: 9.0}, 300, wait=lambda i, n: 0.33)
    assert len(t.history) == 1 and t.chosen == 1


def test_faster_while_still_waiting_for_a_cpu_starts_no_trial():
    """At one thread, iterations 40% faster but the main thread still waits half its time
    for a CPU: no core is idle, so two threads are not tried again."""
    t = ThreadTuner(2)
    machine = lambda i: BUSY if i < 100 else {1: 0.9, 2: 4.0}  # noqa: E731
    used = drive(t, machine, 300, wait=lambda i, n: 0.5)
    assert len(t.history) == 1 and used[20:].count(2) == 0
    # The same speed-up with the CPUs free again: two threads are tried (and win).
    t = ThreadTuner(2)
    machine = lambda i: BUSY if i < 100 else QUIET  # noqa: E731
    drive(t, machine, 300, wait=lambda i, n: 0.5 if i < 100 else 0.0)
    assert t.chosen == 2


def test_cpu_wait_rise_starts_a_trial_before_the_time_moves():
    t = ThreadTuner(2)
    # Times unchanged at 2 threads, but from iteration 100 the main thread waits half the
    # time for a CPU (a competitor); one thread is then faster.
    machine = lambda i: QUIET if i < 100 else {1: 0.55, 2: 0.6}  # noqa: E731
    used = drive(t, machine, 200, wait=lambda i, n: 0.02 if i < 100 else 0.5)
    assert any("wait share 0.02 -> 0.50" in h[0] for h in t.history)
    assert used[-50:] == [1] * 50


def test_backoff_doubles_then_resets_on_a_change():
    t = ThreadTuner(2, min_gap=10, max_gap=40)
    # Two threads get 30% slower every 15 iterations while one thread stays far slower:
    # each drift confirms two threads again, so the gap grows to its ceiling.
    drive(t, lambda i: {1: 1e9, 2: 0.6 * 1.3 ** (i // 15)}, 300)
    assert t.chosen == 2 and t.gap == 40 and len(t.history) >= 4, t.history
    assert all(h[1] == 2 for h in t.history)
    drive(t, lambda i: {1: 1.0, 2: 1e9}, 200, wait=lambda i, n: 0.33)  # waiting: no probes
    assert t.chosen == 1 and t.gap == 10


def test_periodic_recheck():
    t = ThreadTuner(2, recheck=100)
    drive(t, lambda i: QUIET, 450)
    assert sum(h[0].startswith("100 iterations") for h in t.history) >= 3


def test_one_cpu_means_one_thread_and_nothing_to_measure():
    t = ThreadTuner(1)
    assert drive(t, lambda i: {1: 1.0}, 20) == [1] * 20 and t.history == []


def test_schedstat_parsing():
    assert parse_schedstat(b"123 456 7\n") == 456
    with pytest.raises(ValueError, match="schedstat"):
        parse_schedstat(b"")
    assert read_wait_ns("/nonexistent/schedstat") is None


@pytest.mark.skipif(not os.path.exists("/proc/thread-self/schedstat"), reason="needs Linux schedstat")
def test_schedstat_reads_this_thread():
    a = read_wait_ns()
    sum(range(200000))
    b = read_wait_ns()
    assert isinstance(a, int) and b >= a


# -- the measured mode in a process --------------------------------------------------------

def run_fresh(code, **env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "TSCAFFE_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=dict(clean, **env), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


PROBE = ("import caffe_compat.parallel as p, numpy; from caffe_compat import blas_threads as b; "
         "p.num_threads(); print(p.is_pinned(), p.num_threads(), b.get(), p.available_cpus())")


@pytest.mark.skipif(blas_threads.get() is None, reason="numpy's BLAS is not an OpenBLAS this finds")
def test_pinning_rules():
    pinned, n, blas, cpus = run_fresh(PROBE)
    assert pinned == "False" and n == str(cpus)  # measured, starting from every CPU
    # TSCAFFE_NUM_THREADS pins the batch slices and OpenBLAS alike
    assert run_fresh(PROBE, TSCAFFE_NUM_THREADS="1")[:3] == ["True", "1", "1"]
    # OpenBLAS's own variable pins both (OpenBLAS reads it itself)
    assert run_fresh(PROBE, OPENBLAS_NUM_THREADS="1")[:3] == ["True", "1", "1"]
    assert run_fresh(PROBE, OMP_NUM_THREADS="1", TSCAFFE_NUM_THREADS="3")[:2] == ["True", "1"]


def test_set_num_threads_pins_and_none_restores(monkeypatch):
    sets = []
    monkeypatch.setattr(blas_threads, "set", lambda n: sets.append(n) or True)
    try:
        parallel.set_num_threads(3)
        assert parallel.is_pinned() and parallel.num_threads() == 3 and sets == [3]
        assert parallel.tuner(object) is None
        monkeypatch.delenv("TSCAFFE_NUM_THREADS", raising=False)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        parallel.set_num_threads(None)
        assert not parallel.is_pinned() and parallel.num_threads() == parallel.available_cpus()
    finally:
        parallel.set_num_threads(None)


class Cycling:
    """A stand-in tuner: counts 1, 3, 2, 1, 3, 2, ...; remembers what it was told."""

    def __init__(self):
        self.i, self.records, self.idle = 0, [], []

    def count(self):
        return (1, 3, 2)[self.i % 3]

    def exploring(self):   # a trial's turn at 3 threads
        return self.count() == 3

    def record(self, seconds, wait_share=0.0, settled=True, idle=None):
        self.records.append((seconds, wait_share, settled))
        self.idle.append(idle)
        self.i += 1


NET = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 6 dim: 3 dim: 12 dim: 12 } } }
layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 8
  kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.2 } bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip" inner_product_param { num_output: 5
  weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


def _train_three(tmp_path):
    from caffe_compat import TRAIN, Net, rng

    path = tmp_path / "n.prototxt"
    path.write_text(NET)
    rng.set_seed(5)
    net = Net(str(path), TRAIN)
    gen = np.random.default_rng(0)
    out = []
    for _ in range(3):
        net.blobs["data"].data[...] = gen.standard_normal(net.blobs["data"].shape)
        net.blobs["label"].data[...] = gen.integers(0, 5, 6)
        net.clear_param_diffs()
        out.append(net.forward_backward())
        out += [b.diff.copy() for b in net.learnable_params] + [b.data.copy() for b in net.blobs.values()]
        for b in net.learnable_params:  # a plain SGD step, so later iterations see new weights
            b.data -= 0.1 * b.diff
    return net, out


def test_results_do_not_change_when_the_count_changes_each_iteration(tmp_path, monkeypatch):
    """The batch slices give the same bits at 1, 3 and 2 threads (OpenBLAS held at one
    thread here: its own results may depend on its count, see caffe_compat.blas_threads)."""
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "FORCE_SPLIT", True)
    sets = []
    monkeypatch.setattr(blas_threads, "set", lambda n: sets.append(n) or True)
    try:
        parallel.set_num_threads(1)
        _, reference = _train_three(tmp_path)
        for name in ("TSCAFFE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            monkeypatch.delenv(name, raising=False)
        parallel.set_num_threads(None)
        cycling = Cycling()
        monkeypatch.setattr(parallel, "tuner", lambda owner: cycling)
        net, measured = _train_three(tmp_path)
        assert len(cycling.records) == 3 and all(s > 0 for s, _, _ in cycling.records)
        assert 3 in sets and 2 in sets  # OpenBLAS was told each count
        for a, b in zip(reference, measured):
            assert np.array_equal(a, b)
    finally:
        parallel.set_num_threads(None)


def test_measured_applies_the_count_and_skips_nested_and_failed_iterations(monkeypatch):
    sets = []
    monkeypatch.setattr(blas_threads, "set", lambda n: sets.append(n) or True)
    for name in ("TSCAFFE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    try:
        parallel.set_num_threads(None)
        cycling = Cycling()
        cycling.i = 1  # next count: 3
        monkeypatch.setattr(parallel, "tuner", lambda owner: cycling)
        with parallel.measured("net"):
            assert parallel.num_threads() == 3 and sets[-1] == 3
            assert engines._exploring    # the Picks are told of the trial turn
            with parallel.measured("net"):  # nested: part of the outer iteration
                pass
        assert len(cycling.records) == 1 and not engines._exploring
        with pytest.raises(RuntimeError):
            with parallel.measured("net"):
                raise RuntimeError("layer failed")
        assert len(cycling.records) == 1
        with parallel.measured("net"):
            pass
        assert len(cycling.records) == 2
    finally:
        parallel.set_num_threads(None)


def test_iterations_while_kernels_are_timed_are_not_counted():
    """A machine where two threads are faster, but each count's first 6 iterations also run
    slow candidate kernels (as the fast engine's Picks do, per thread count): counted, they
    would make one thread win the start-up trial; not counted, two threads win."""
    t = ThreadTuner(2)
    picked = {1: 0, 2: 0}
    used = []
    for _ in range(60):
        n = t.count()
        used.append(n)
        settled = picked[n] >= 6
        picked[n] += 1
        t.record(QUIET[n] * (1 if settled else 3.0), 0.0, settled=settled)
    assert t.chosen == 2 and used[-20:] == [2] * 20
    assert len(t.history) == 1 and set(t.history[0][2]) == {1, 2}
    # what the trial saw are the settled times only
    assert t.history[0][2][1] == pytest.approx(1.0) and t.history[0][2][2] == pytest.approx(0.6)
    # the same count ran again until its kernels were picked: 6 unsettled + warm-up + 1 turn at 1
    assert used[:8] == [1] * 8 and used[8:14] == [2] * 6


def test_counted_anyway_after_max_unsettled_in_a_row():
    t = ThreadTuner(2, max_unsettled=5)
    for _ in range(5):
        t.record(1.0, settled=False)
    assert t._seen == 0
    t.record(1.0, settled=False)  # the sixth in a row is counted (the warm-up)
    assert t._seen == 1


def test_measured_reports_whether_a_pick_timed_during_the_iteration(monkeypatch):
    from caffe_compat import engines

    for name in ("TSCAFFE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(blas_threads, "set", lambda n: True)
    try:
        parallel.set_num_threads(None)
        cycling = Cycling()
        monkeypatch.setattr(parallel, "tuner", lambda owner: cycling)
        pick = engines.Pick(["a", "b"], rounds=2)
        calls = {"a": lambda: None, "b": lambda: None}
        settled = []
        for _ in range(6):
            with parallel.measured("net"):
                pick.run(calls)
            settled.append(cycling.records[-1][2])
        # 2 candidates x 2 rounds = 4 timed calls, then the pick is made
        assert settled == [False] * 4 + [True] * 2 and pick.chosen in ("a", "b")
    finally:
        parallel.set_num_threads(None)


def test_a_passing_disturbance_does_not_keep_fewer_threads():
    """Two threads are best, but for 40 iterations they are slowed (a competitor that came
    and went with no CPU wait seen): the tuner drops to one thread, then a probe finds two
    threads faster again within the back-off gap; without probes it stays at one thread
    until the periodic recheck."""
    def machine(i):
        return {1: 1.0, 2: 1.6} if 40 <= i < 80 else QUIET

    t = ThreadTuner(2)
    used = drive(t, machine, 400)
    assert used[60:75].count(1) >= 10          # it did drop to one thread
    assert used[-200:] == [2] * 200            # and came back
    back = used.index(2, 80)
    assert back - 80 <= t.window + t.probe * 2 * t.min_gap + t.trial_rounds
    assert any(h[0].startswith("probe") and h[1] == 2 for h in t.history)
    t = ThreadTuner(2, probe=0)
    used = drive(t, machine, 400)
    assert used[-200:] == [1] * 200            # the old rule: kept until the recheck


# -- idle CPUs (/proc/stat) -------------------------------------------------------------------
STAT = (b"cpu  500 10 200 9000 40 0 3 7 0 0\n"
        b"cpu0 100 5 50 4000 10 0 1 3 0 0\n"
        b"cpu1 200 5 70 3000 20 0 1 2 0 0\n"
        b"cpu3 200 0 80 2000 10 0 1 2 0 0\n"
        b"intr 123 0 0 4\nctxt 99\n")


def test_idle_ticks_parsing():
    # idle + iowait of the cpuN lines asked for; the aggregate "cpu" line is not one of them.
    assert parse_idle_ticks(STAT) == 4010 + 3020 + 2010
    assert parse_idle_ticks(STAT, {0, 3}) == 4010 + 2010
    with pytest.raises(ValueError):
        parse_idle_ticks(STAT, {2})
    with pytest.raises(ValueError):
        parse_idle_ticks(b"intr 1 2 3\n")


def test_idle_ticks_read_this_machine(tmp_path):
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat on this system")
    cpus = os.sched_getaffinity(0)
    a = read_idle_ticks(cpus)
    assert isinstance(a, int) and a >= 0
    assert read_idle_ticks(cpus) >= a
    assert read_idle_ticks(cpus, path=str(tmp_path / "missing")) is None


NO_IDLE = lambda i, n: 0.0           # two competitors hold both CPUs
ONE_IDLE = lambda i, n: 2 - n        # quiet: what this process does not use is idle


def test_busy_machine_with_no_idle_cpu_tries_more_threads_only_in_the_probes():
    """The idle ticks settle what the CPU wait share cannot (two competitors measured 0.00 to
    0.24 of a thread's time waiting): no start-up turn at two threads and no "faster" trial
    (a time falling back from a noisy reference); only the backed-off probes, each pruned
    after one turn."""
    t = ThreadTuner(2)
    used = drive(t, lambda i: BUSY, 3000, noise=0.3, idle=NO_IDLE)
    assert t.chosen == 1 and t.history[0][0].startswith("start: 0.00 CPUs idle")
    assert used[:50].count(2) == 0
    reasons = [h[0] for h in t.history[1:]]
    assert reasons and all(r.startswith("probe") for r in reasons)
    assert used.count(2) == len(reasons) <= 7
    # Without the ticks, the same noisy machine also runs "faster" trials at two threads.
    t = ThreadTuner(2)
    drive(t, lambda i: BUSY, 3000, noise=0.3)
    assert any(h[0].startswith("faster") for h in t.history)


def test_a_full_machine_where_more_threads_take_a_larger_share():
    """cifar10_quick with two competitors on two CPUs: two threads take half the machine
    instead of a third and win (measured 174-191 against 197-211 ms); no CPU is ever idle,
    and a probe finds it."""
    wide = {1: 2.0, 2: 1.7}
    t = ThreadTuner(2)
    used = drive(t, lambda i: wide, 400, idle=NO_IDLE)
    assert used[:50].count(2) == 0
    assert t.chosen == 2 and used[-100:] == [2] * 100


def test_quiet_machine_starts_at_the_most_threads():
    t = ThreadTuner(2)
    used = drive(t, lambda i: QUIET, 60, idle=ONE_IDLE)
    # One iteration at one thread measures the idle CPU (1.0 s >= idle_span); then the warm-up
    # and the trial from two threads down: one turn at one thread (pruned: 1.0 > 1.5 x 0.6).
    assert used[:4] == [1, 2, 2, 1] and used[4:] == [2] * 56
    assert t.chosen == 2 and t.history[0][0] == "start: 1.00 CPUs idle at one thread"


def test_exploring_marks_the_trial_turns_at_another_count():
    t = ThreadTuner(2)
    seen = []
    for i in range(6):
        seen.append((t.count(), t.exploring()))
        n = t.count()
        t.record(QUIET[n], idle=ONE_IDLE(i, n) * QUIET[n])
    # the idle measurement at one thread (the current count then), the warm-up and the first
    # turn at two (now current), then the turn at one thread: a trial turn at another count.
    assert seen[:4] == [(1, False), (2, False), (2, False), (1, True)]
    assert seen[4:] == [(2, False), (2, False)]
    assert not ThreadTuner(1).exploring()


def test_idle_span_is_measured_before_the_start_decision():
    t = ThreadTuner(2, idle_span=0.05)
    fast = {1: 0.01, 2: 0.006}
    used = drive(t, lambda i: fast, 40, idle=ONE_IDLE)
    assert used[:5] == [1] * 5 and used[5] == 2   # 5 x 10 ms at one thread, then the trial
    assert t.chosen == 2


def test_the_start_measurement_iterations_are_not_trial_turns():
    """Iterations shorter than idle_span: the ones that measured the idle CPUs (at one thread)
    count neither as the warm-up nor as any count's trial turn."""
    t = ThreadTuner(2, idle_span=0.05)
    used = drive(t, lambda i: {1: 0.01, 2: 0.04}, 40, idle=NO_IDLE)
    assert used == [1] * 40
    assert set(t.history[0][2]) == {1}      # no two-thread median made of one-thread times


def test_competitors_leave_and_come_back_with_idle_ticks():
    """Busy (no idle CPU) for 400 iterations, quiet for 400, busy again."""
    def machine(i):
        return BUSY if i < 400 or i >= 800 else QUIET

    def idle(i, n):
        return 0.0 if i < 400 or i >= 800 else 2 - n
    t = ThreadTuner(2)
    used = drive(t, machine, 1200, idle=idle)
    assert used[:400].count(2) <= 3         # the probes' pruned turns
    assert used[500:800] == [2] * 300      # the idle CPU seen: two threads
    assert used[900:].count(2) <= 3 and t.chosen == 1


def test_measured_reports_idle_cpu_seconds(monkeypatch):
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat on this system")
    for name in ("TSCAFFE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    try:
        parallel.set_num_threads(None)
        cycling = Cycling()
        monkeypatch.setattr(parallel, "tuner", lambda owner: cycling)
        import time
        with parallel.measured("net"):
            time.sleep(0.2)   # sleeping: this process's CPUs are mostly idle
        idle = cycling.idle[-1]
        seconds = cycling.records[-1][0]
        cpus = parallel.available_cpus()
        assert 0.0 <= idle <= cpus * seconds + 0.03
        if os.getloadavg()[0] < 0.5 * cpus:   # a quiet machine: most of it was idle
            assert idle > 0.3 * seconds
    finally:
        parallel.set_num_threads(None)


def test_a_lost_probe_with_no_idle_cpu_holds_the_probes_until_the_recheck():
    """LeNet under two competitors: two threads lose (2.7x) and no CPU is ever idle. The first
    probe measures that; the next one waits for the recheck (``recheck`` iterations), not for
    the back-off gap, so a long run pays one pruned turn per recheck."""
    t = ThreadTuner(2)
    used = drive(t, lambda i: BUSY, 3000, idle=NO_IDLE)
    probes = [i for i, n in enumerate(used) if n == 2]
    assert t.chosen == 1 and 1 <= len(probes) <= 3
    assert all(b - a >= t.recheck for a, b in zip(probes, probes[1:]))
    # Without the hold, the back-off gaps alone allow more (the rule before: 10, 20, 40, ...).
    t = ThreadTuner(2, recheck=10 ** 9)
    used = drive(t, lambda i: BUSY, 3000, idle=NO_IDLE)
    assert used.count(2) == 1


def test_held_probes_resume_when_a_cpu_is_idle_again():
    """The hold lasts while the load does: a competitor leaves (a CPU is idle at one thread)
    and two threads become faster; the tuner goes to two threads without waiting for the
    recheck."""
    def machine(i):
        return BUSY if i < 300 else QUIET

    def idle(i, n):
        return 0.0 if i < 300 else 2 - n

    t = ThreadTuner(2)
    used = drive(t, machine, 500, idle=idle)
    assert used[:300].count(2) == 1
    assert used[-100:] == [2] * 100 and used.index(2, 300) - 300 < 60


def test_a_probe_that_wins_under_load_is_not_held():
    """A lost probe holds the next ones only while the load lasts; on a full machine where two
    threads win later (the competitors' work changed, cifar10_quick's case), a recheck finds it."""
    def machine(i):
        return BUSY if i < 1200 else {1: 2.0, 2: 1.7}

    t = ThreadTuner(2)
    used = drive(t, machine, 3000, idle=NO_IDLE)
    assert used[-200:] == [2] * 200
