"""Elementwise work split across the batch on a few threads, and how many threads to use.

numpy releases the GIL inside its copy and ufunc loops, so the memory-bound passes that
dominate a numpy iteration (im2col, col2im, pooling, activations) run on every core when
the batch is cut into slices, while the GEMMs use OpenBLAS's own threads. Every element is
computed by the same operations as in one piece, so the split changes no result;
reductions are never split. A slice costs tens of microseconds to hand over, so each call
site is split only where its first calls measured the split faster (``_sites``).

The thread count is **pinned** when ``TSCAFFE_NUM_THREADS``, ``OMP_NUM_THREADS`` or
``OPENBLAS_NUM_THREADS`` is set: the smallest of them (so ``OPENBLAS_NUM_THREADS=1`` means one
core, as for Caffe); ``TSCAFFE_NUM_THREADS`` also sets OpenBLAS's count, the other two are
OpenBLAS's own. ``set_num_threads(n)`` pins it too. Otherwise it is **measured**: each
iteration run inside ``measured(owner)`` (``Net.forward_backward``, ``tscaffe time``) is
timed and caffe_compat.thread_tuner picks the count, for the batch slices and OpenBLAS
alike, from 1 up to the CPUs this process may run on, and picks again when the iteration
time drifts or the process waits for its cores. Results of the batch slices are the same at
any count; OpenBLAS's can differ in the last bits for some shapes (caffe_compat.blas_threads),
so pin the count where a run must repeat bit for bit.
"""
import os
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from . import blas_threads, engines
from .errors import CaffeError
from .thread_tuner import CLOCK_TICKS, ThreadTuner, read_idle_ticks, read_wait_ns

# Below this many elements a pass costs less than handing it to another thread.
MIN_ELEMENTS = 1 << 17

_lock = threading.Lock()
_pool = None
_threads = None
_pinned = None  # None: not decided yet; False: measured; else the pinned count
_blas_pinned = False
_tuners = weakref.WeakKeyDictionary()
_cpus = None    # the affinity mask's CPUs, read when the count is settled (idle ticks' CPUs)
_inside = threading.local()


def _from_environment():
    """The pinned count the environment asks for, or None (measure it)."""
    counts = []
    ours = os.environ.get("TSCAFFE_NUM_THREADS", "").strip()
    if ours:
        if not ours.isdigit() or int(ours) < 1:
            raise CaffeError(f"TSCAFFE_NUM_THREADS must be a whole number >= 1, got {ours!r}")
        counts.append(int(ours))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:  # their own libraries' rules; ignore the rest
            counts.append(int(value))
    return min(counts) if counts else None


def _cpu_set():
    """The numbers of the CPUs this process may run on (its affinity mask; None where unknown)."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None


def available_cpus():
    """How many CPUs this process may run on."""
    cpus = _cpu_set()
    return len(cpus) if cpus is not None else os.cpu_count() or 1


def _settle():
    """Decides once between pinned (environment) and measured."""
    global _pinned, _threads, _blas_pinned, _cpus
    if _pinned is None:
        _cpus = _cpu_set()
        pinned = _from_environment()
        _blas_pinned = bool(os.environ.get("TSCAFFE_NUM_THREADS", "").strip())
        _pinned = pinned if pinned is not None else False
        _threads = pinned if pinned is not None else available_cpus()
        if _blas_pinned:
            blas_threads.set(pinned)


def num_threads():
    """Threads the batch-split work uses now."""
    _settle()
    return _threads


def is_pinned():
    _settle()
    return _pinned is not False


def set_num_threads(n):
    """Pins the thread count for batch-split work and OpenBLAS from now on (1: everything
    on the caller's thread); ``None`` goes back to the environment's rule (measured unless
    a variable pins it)."""
    global _threads, _pinned, _blas_pinned
    if n is None:
        with _lock:
            _pinned = None
        _tuners.clear()
        _settle()
        if not _pinned:
            blas_threads.set(_threads)
        return
    if int(n) < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    with _lock:
        _pinned = _threads = int(n)
        _blas_pinned = True
    blas_threads.set(_threads)


def _use(n):
    """Runs the next work with ``n`` threads (measured mode)."""
    global _threads
    if n != _threads:
        _threads = n
        blas_threads.set(n)


def tuner(owner):
    """The ThreadTuner that measures ``owner``'s iterations (None when pinned)."""
    if is_pinned():
        return None
    t = _tuners.get(owner)
    if t is None:
        t = _tuners[owner] = ThreadTuner(available_cpus())
    return t


class measured:
    """``with measured(net): one iteration``: runs it with the count ``net``'s tuner wants and
    reports its time and CPU wait. Does nothing when the count is pinned, or inside another
    measured iteration (the outer one is the iteration)."""

    __slots__ = ("owner", "tuner", "t0", "w0", "e0", "i0")

    def __init__(self, owner):
        self.owner = owner
        self.tuner = None

    def __enter__(self):
        if getattr(_inside, "depth", 0) == 0:
            self.tuner = tuner(self.owner)
        _inside.depth = getattr(_inside, "depth", 0) + 1
        if self.tuner is not None:
            _use(self.tuner.count())
            engines.set_exploring(self.tuner.exploring())
            self.i0 = read_idle_ticks(_cpus)
            self.w0 = read_wait_ns()
            self.e0 = engines.timing_calls()
            self.t0 = time.perf_counter()
        return self

    def __exit__(self, kind, value, tb):
        _inside.depth -= 1
        if self.tuner is not None:
            engines.set_exploring(False)
        if self.tuner is None or kind is not None:
            return False
        seconds = time.perf_counter() - self.t0
        w1 = read_wait_ns()
        i1 = read_idle_ticks(_cpus)
        share = 0.0 if self.w0 is None or w1 is None or seconds <= 0 else (w1 - self.w0) / 1e9 / seconds
        idle = None if self.i0 is None or i1 is None else (i1 - self.i0) / CLOCK_TICKS
        self.tuner.record(seconds, share, settled=engines.timing_calls() == self.e0, idle=idle)
        return False


def _executor(workers):
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="tscaffe")
        return _pool


# Each call site of over_batch (its function's code, the work's size and the thread count)
# is an engines.Pick between the split and one piece: its first 2 * SITE_ROUNDS calls
# alternate, the first of each untimed, and the faster is kept. Handing a slice to another
# thread costs tens of microseconds (more on a virtual machine than on bare metal), which a
# pass of a few hundred thousand cheap elements does not win back: the VGG student's ReLU at
# 64x16x14x14 took 148 us split and 76 us in one piece on 2 vCPUs, where cifar10_quick's
# 100x32x32x32 took 847 against 1,474.
SITE_ROUNDS = 5
# True: every call at or above MIN_ELEMENTS is split, unmeasured (tests force the split on
# to check that the slices change no result).
FORCE_SPLIT = False
# A net reshaped to ever new sizes (a deploy net fed images as they come) would add sites
# without end: past this many, the choices are forgotten and measured again.
MAX_SITES = 4096
_sites = {}


def over_batch(fn, n, elements):
    """Calls ``fn(lo, hi)`` on consecutive slices covering ``range(n)``: one slice per
    thread where that was measured faster at this call site (``_sites``), else ``fn(0, n)``;
    work under ``MIN_ELEMENTS`` is never split. The caller's thread takes the first slice;
    exceptions are raised here."""
    threads = min(_threads or num_threads(), n)
    if threads <= 1 or elements < MIN_ELEMENTS:
        fn(0, n)
        return
    if FORCE_SPLIT:
        _split(fn, n, threads)
        return
    key = (fn.__code__, elements, threads)
    site = _sites.get(key)
    if site is None:
        if len(_sites) >= MAX_SITES:
            _sites.clear()
        site = _sites[key] = engines.Pick(("split", "whole"), rounds=SITE_ROUNDS)
    if site.chosen is None:
        site.run({"split": lambda: _split(fn, n, threads), "whole": lambda: fn(0, n)})
    elif site.chosen == "split":
        _split(fn, n, threads)
    else:
        fn(0, n)


def _split(fn, n, threads):
    bounds = [n * i // threads for i in range(threads + 1)]
    pending = [_executor(threads - 1).submit(fn, bounds[i], bounds[i + 1]) for i in range(1, threads)]
    try:
        fn(bounds[0], bounds[1])
    finally:
        for f in pending:
            f.result()
