"""One array-module accessor, as Chainer does it.

Every layer gets its array functions through ``get_array_module`` (or the module-level
``xp``) instead of importing numpy directly, so a CuPy backend can be plugged in later
without touching the layers.
"""
import numpy

from . import _malloc  # noqa: F401  (keeps freed scratch memory in the process)

xp = numpy


def get_array_module(*arrays):
    """Return the array module (numpy, or cupy for cupy arrays) that owns ``arrays``."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy  # only reached when a cupy array is actually passed

            return cupy
    return numpy


def asnumpy(a):
    """Host copy of an array from any backend."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return numpy.asarray(a)
