"""One array-module accessor, as Chainer does it.

Every layer module gets its array functions through ``get_array_module`` (or the
module-level ``xp``) instead of importing numpy directly, so a CuPy backend can be plugged
in later without touching the layers. The exceptions are the layers that fill host memory
from files and their helpers (``HOST_LAYER_MODULES``): Caffe's data layers, too, fill CPU
memory and copy it to the device afterwards. tests/test_backend_rule.py keeps this true.
"""
import numpy

from . import _malloc  # noqa: F401  (keeps freed scratch memory in the process)

xp = numpy

# Layer modules (caffe_compat/layer_types/) that read files into host memory: numpy there.
HOST_LAYER_MODULES = ("_prefetching", "data", "image_data", "memory_data", "window_data",
                      "hdf5_data", "hdf5_output")


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
