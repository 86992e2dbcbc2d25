"""caffe_compat: Caffe 1.0 at run time, in numpy, with pycaffe's surface.

A 2017 pycaffe script runs with one changed import::

    import caffe_compat as caffe
    net = caffe.Net("deploy.prototxt", "weights.caffemodel", caffe.TEST)

Names are resolved lazily so that importing the package stays cheap.
"""
import os as _os

# OpenBLAS's idle worker threads spin for 2**28 cycles (about 0.1 s) after every GEMM and
# so hold the cores that the batch-split numpy passes (caffe_compat.parallel) need next; a
# short spin (2**16 cycles) was fastest on 2 cores (cifar10_quick: 143 -> 106 ms). It only
# takes effect when this package is imported before numpy; a value the user set is kept.
_OPENBLAS_SPIN_SET_HERE = "OPENBLAS_THREAD_TIMEOUT" not in _os.environ
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

TRAIN = 0
TEST = 1

_LAZY = {
    "Net": ("caffe_compat.net", "Net"),
    "Blob": ("caffe_compat.blob", "Blob"),
    "Layer": ("caffe_compat.layer_types.base", "Layer"),
    "CaffeError": ("caffe_compat.errors", "CaffeError"),
    "io": ("caffe_compat.io", None),
    "proto": ("caffe_compat.proto", None),
    "caffe_pb2": ("caffe_compat.proto.caffe_pb2", None),
    "layer_types": ("caffe_compat.layer_types.base", "layer_types"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod_name, attr = _LAZY[name]
        mod = importlib.import_module(mod_name)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'caffe_compat' has no attribute '{name}'")


def set_mode_cpu():
    """pycaffe compatibility: the numpy backend always runs on the CPU."""


def set_mode_gpu():
    """pycaffe compatibility: accepted, but this build computes on the CPU."""


def set_device(device_id):
    """pycaffe compatibility: no effect on the CPU backend."""


def set_random_seed(seed):
    from . import rng

    rng.set_seed(seed)
