"""Each call site of parallel.over_batch is split only where the split was measured faster
(parallel._sites, one engines.Pick each): the choice follows the timings, is made per site, size and thread count,
and every call covers the batch once whichever way it runs."""
import threading
import time

import pytest

import caffe_compat.parallel as parallel


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "FORCE_SPLIT", False)
    monkeypatch.setattr(parallel, "_sites", {})
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(parallel._from_environment())


def make_site(seconds_for):
    """A call site whose slice (lo, hi) of n items sleeps ``seconds_for(lo, hi)`` (sleep lets
    go of the GIL, as numpy's loops do); it records each call's slices and threads."""
    calls = []

    def fn(lo, hi):
        calls[-1].append((lo, hi, threading.current_thread().name))
        time.sleep(seconds_for(lo, hi))

    def call(n, elements):
        calls.append([])
        parallel.over_batch(fn, n, elements)
        return sorted(calls[-1])

    return call, fn


def split(slices):
    return len(slices) > 1


def test_a_site_that_gains_from_the_split_keeps_it(two_threads):
    call, _ = make_site(lambda lo, hi: 0.004 * (hi - lo))   # the work halves on each thread
    ways = [split(call(10, 1000)) for _ in range(2 * parallel.SITE_ROUNDS + 4)]
    assert ways[:2 * parallel.SITE_ROUNDS] == [True, False] * parallel.SITE_ROUNDS, "timed alternately"
    assert all(ways[2 * parallel.SITE_ROUNDS:]), "kept split"


def test_a_site_that_loses_to_the_hand_off_runs_in_one_piece(two_threads):
    # A slice costs 15 ms whatever its size, the whole batch 2 ms: splitting only adds.
    call, _ = make_site(lambda lo, hi: 0.002 if hi - lo == 10 else 0.015)
    ways = [split(call(10, 1000)) for _ in range(2 * parallel.SITE_ROUNDS + 4)]
    assert not any(ways[2 * parallel.SITE_ROUNDS:]), "kept in one piece"


def test_every_call_covers_the_batch_once_either_way(two_threads):
    call, _ = make_site(lambda lo, hi: 0.0005)
    for _ in range(2 * parallel.SITE_ROUNDS + 2):
        slices = call(7, 1000)
        covered = [i for lo, hi, _ in slices for i in range(lo, hi)]
        assert covered == list(range(7))
        if split(slices):
            assert {t for _, _, t in slices} != {threading.current_thread().name}, "a worker ran a slice"


def test_the_choice_is_per_size_and_thread_count(two_threads):
    call, fn = make_site(lambda lo, hi: 0.002 if hi - lo == 10 else 0.015)
    for _ in range(2 * parallel.SITE_ROUNDS):
        call(10, 1000)
    assert parallel._sites[(fn.__code__, 1000, 2)].chosen == "whole"
    assert split(call(10, 2000)), "another size is timed afresh (its first call splits)"
    parallel.set_num_threads(3)
    assert split(call(10, 1000)), "another thread count is timed afresh"
    assert parallel._sites[(fn.__code__, 1000, 3)].chosen is None


def test_small_work_and_one_thread_are_never_split(two_threads, monkeypatch):
    call, _ = make_site(lambda lo, hi: 0.0)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 500)
    assert not any(split(call(10, 499)) for _ in range(8))
    parallel.set_num_threads(1)
    assert not any(split(call(10, 10 ** 6)) for _ in range(8))
    assert parallel._sites == {}, "nothing timed"


def test_sites_are_forgotten_past_the_cap(two_threads, monkeypatch):
    monkeypatch.setattr(parallel, "MAX_SITES", 5)
    call, fn = make_site(lambda lo, hi: 0.0)
    for size in range(1000, 1012):
        call(10, size)
        assert len(parallel._sites) <= 5
    assert (fn.__code__, 1011, 2) in parallel._sites, "the newest site is kept"
