"""Elementwise work split across the batch on a few threads.

numpy releases the GIL inside its copy and ufunc loops, so the memory-bound passes that
dominate a numpy iteration (im2col, col2im, pooling, activations) run on every core when
the batch is cut into slices, while the GEMMs already use OpenBLAS's own threads. Every
element is computed by the same operations as in one piece, so results do not change;
reductions are never split.

The thread count is the smallest of ``TSCAFFE_NUM_THREADS``, ``OMP_NUM_THREADS`` and
``OPENBLAS_NUM_THREADS`` that is set (so ``OPENBLAS_NUM_THREADS=1`` means one core, as for
Caffe), else the CPUs this process may run on; ``set_num_threads`` changes it.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .errors import CaffeError

# Below this many elements a pass costs less than handing it to another thread.
MIN_ELEMENTS = 1 << 17

_lock = threading.Lock()
_pool = None
_threads = None


def _from_environment():
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
    if counts:
        return min(counts)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def num_threads():
    global _threads
    if _threads is None:
        _threads = _from_environment()
    return _threads


def set_num_threads(n):
    """Threads used for batch-split work from now on (1: everything on the caller's)."""
    global _threads, _pool
    if int(n) < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    with _lock:
        _threads = int(n)
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None


def _executor(workers):
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="tscaffe")
        return _pool


def over_batch(fn, n, elements):
    """Calls ``fn(lo, hi)`` on consecutive slices covering ``range(n)``: one slice per
    thread when ``elements`` (the work's size) is large enough, else ``fn(0, n)``. The
    caller's thread takes the first slice; exceptions are raised here."""
    threads = min(num_threads(), n)
    if threads <= 1 or elements < MIN_ELEMENTS:
        fn(0, n)
        return
    bounds = [n * i // threads for i in range(threads + 1)]
    pending = [_executor(threads - 1).submit(fn, bounds[i], bounds[i + 1]) for i in range(1, threads)]
    try:
        fn(bounds[0], bounds[1])
    finally:
        for f in pending:
            f.result()
