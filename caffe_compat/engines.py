"""Which engine computes a layer: Caffe's own order (CAFFE) or the fastest one here (DEFAULT).

Caffe's ConvolutionParameter, PoolingParameter (and ReLU, Sigmoid, TanH, Softmax, LRN)
carry ``engine``: DEFAULT = 0, CAFFE = 1, CUDNN = 2. Caffe 1.0 reads DEFAULT as CUDNN when
built with cuDNN, else CAFFE. tscaffe reads them as:

- ``CAFFE``: the numpy path that computes in Caffe's own order: the path every recorded
  fixture and training trajectory of real Caffe is compared with;
- ``DEFAULT`` and ``CUDNN``: the **fast** engine (cuDNN's role, on the CPU): per layer and
  shape, the fastest of the candidate kernels (Caffe's path among them), chosen by timing
  them once, as cuDNN's ``find`` does. Results equal CAFFE's to float32 rounding (other
  summation orders), never more; float64 blobs always take the CAFFE path.

``TSCAFFE_ENGINE=CAFFE`` (or ``caffe_compat.set_engine("CAFFE")``) runs every layer on Caffe's
path whatever its prototxt says, e.g. to repeat a run bit for bit or compare with real Caffe;
``TSCAFFE_ENGINE=DEFAULT`` (the default) honours each layer's field.
"""
import os
import statistics
import time

from .errors import CaffeError

CAFFE, FAST = "CAFFE", "FAST"
_NAMES = {0: "DEFAULT", 1: "CAFFE", 2: "CUDNN"}
_override = None


def _from_environment():
    value = os.environ.get("TSCAFFE_ENGINE", "").strip().upper()
    if value in ("", "DEFAULT"):
        return None
    if value == "CAFFE":
        return CAFFE
    raise CaffeError(f"TSCAFFE_ENGINE must be CAFFE or DEFAULT, got {value!r}")


def set_engine(name):
    """``"CAFFE"``: every layer on Caffe's path from now on; ``"DEFAULT"`` or None: each
    layer's own ``engine`` field decides (layers already set up keep their choice)."""
    global _override
    value = "DEFAULT" if name is None else str(name).upper()
    if value not in ("CAFFE", "DEFAULT"):
        raise ValueError(f"engine must be 'CAFFE' or 'DEFAULT', got {name!r}")
    _override = CAFFE if value == "CAFFE" else "DEFAULT"


def get_engine():
    """``"CAFFE"`` when forced for the whole process, else ``"DEFAULT"``."""
    if _override is not None:
        return _override
    return _from_environment() or "DEFAULT"


def resolve(field_value):
    """CAFFE or FAST for a layer whose parameter's ``engine`` is ``field_value`` (an enum int)."""
    if get_engine() == CAFFE:
        return CAFFE
    name = _NAMES.get(int(field_value), "DEFAULT")
    return CAFFE if name == "CAFFE" else FAST


def fastest(candidates, rounds=3):
    """The name of the fastest of ``candidates`` ({name: zero-argument function}), timed in
    interleaved rounds (medians), each run once first as a warm-up. One candidate: its name."""
    names = list(candidates)
    if len(names) == 1:
        return names[0]
    times = {n: [] for n in names}
    for n in names:
        candidates[n]()
    for _ in range(rounds):
        for n in names:
            t0 = time.perf_counter()
            candidates[n]()
            times[n].append(time.perf_counter() - t0)
    return min(names, key=lambda n: statistics.median(times[n]))
