"""pycaffe's process-wide calls (``caffe.set_mode_gpu()`` ...), for a CPU-only numpy Caffe.

- ``set_mode_cpu()``: nothing to do; ``set_mode_gpu()`` / ``set_device(id)``: this build
  computes on the CPU, said once per process with a RuntimeWarning, so a 2017 script that asks
  for the GPU runs on;
- ``set_random_seed(seed)``: Caffe's random number generator (fillers, dropout, shuffling);
- ``init_log(level=0, stderr=False)`` / ``log(message)``: Caffe's glog at INFO (0), WARNING (1),
  ERROR (2) through Python's logging (logger ``caffe_compat``, written to stderr);
- ``solver_count``, ``solver_rank``, ``set_multiprocess`` (one solver, rank 0 unless set),
  ``has_nccl()`` False and ``NCCL(solver, uid)`` doing nothing (Caffe built without NCCL);
- ``Timer``: ``start()``, ``stop()``, ``ms`` (the last start-stop interval, or up to now).
"""
import logging
import time
import warnings

_state = {"gpu_warned": False, "solver_count": 1, "solver_rank": 0, "multiprocess": False}
_log = logging.getLogger("caffe_compat")
_GLOG_LEVELS = {0: logging.INFO, 1: logging.WARNING, 2: logging.ERROR, 3: logging.CRITICAL}


def _warn_gpu(call):
    if not _state["gpu_warned"]:
        _state["gpu_warned"] = True
        warnings.warn(f"caffe_compat.{call}: this build computes on the CPU (numpy); "
                      "the net runs there", RuntimeWarning, stacklevel=3)


def set_mode_cpu():
    """Compute on the CPU (the only mode here)."""


def set_mode_gpu():
    _warn_gpu("set_mode_gpu()")


def set_device(device_id):
    _warn_gpu(f"set_device({device_id})")


def set_random_seed(seed):
    from . import rng

    rng.set_seed(seed)


def init_log(level=0, stderr=False):
    """Show Caffe's messages of glog ``level`` and above (0 INFO, 1 WARNING, 2 ERROR) on stderr."""
    if level not in _GLOG_LEVELS:
        raise ValueError(f"init_log: level {level} is not a glog level (0 INFO, 1 WARNING, 2 ERROR, 3 FATAL)")
    if not any(getattr(h, "_caffe_compat_init_log", False) for h in _log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname).1s%(asctime)s %(message)s", "%m%d %H:%M:%S"))
        handler._caffe_compat_init_log = True
        _log.addHandler(handler)
    _log.setLevel(_GLOG_LEVELS[level])


def log(message):
    """Caffe's LOG(INFO) << message."""
    _log.info("%s", message)


def solver_count():
    return _state["solver_count"]


def set_solver_count(count):
    _state["solver_count"] = int(count)


def solver_rank():
    return _state["solver_rank"]


def set_solver_rank(rank):
    _state["solver_rank"] = int(rank)


def set_multiprocess(multiprocess):
    _state["multiprocess"] = bool(multiprocess)


def has_nccl():
    return False


class NCCL:
    """Caffe's NCCL binding in a build without NCCL: it accepts a solver and a uid, and
    does nothing (no ``new_uid`` / ``bcast``, as in that build)."""

    def __init__(self, solver, uid):
        self.solver = solver
        self.uid = uid


class Timer:
    """Caffe's CPU Timer."""

    def __init__(self):
        self._start = None
        self._elapsed = 0.0
        self._running = False

    def start(self):
        self._start = time.perf_counter()
        self._running = True

    def stop(self):
        if self._running:
            self._elapsed = time.perf_counter() - self._start
            self._running = False

    @property
    def ms(self):
        if self._running:
            self.stop()
        return self._elapsed * 1000.0
