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
__version__ = "1.0.0"  # the Caffe release whose behaviour this reproduces (pycaffe's value)

# pycaffe's names (python/caffe/__init__.py and _caffe.cpp), each where it lives here.
_LAZY = {
    "Net": ("caffe_compat.net", "Net"),
    "Blob": ("caffe_compat.blob", "Blob"),
    "Layer": ("caffe_compat.layer_types.base", "Layer"),
    "CaffeError": ("caffe_compat.errors", "CaffeError"),
    "Classifier": ("caffe_compat.classifier", "Classifier"),
    "Detector": ("caffe_compat.detector", "Detector"),
    "NetSpec": ("caffe_compat.net_spec", "NetSpec"),
    "to_proto": ("caffe_compat.net_spec", "to_proto"),
    "layers": ("caffe_compat.net_spec", "layers"),
    "params": ("caffe_compat.net_spec", "params"),
    "NCCL": ("caffe_compat.runtime", "NCCL"),
    "Timer": ("caffe_compat.runtime", "Timer"),
    "io": ("caffe_compat.io", None),
    "draw": ("caffe_compat.draw", None),
    "coord_map": ("caffe_compat.coord_map", None),
    "net_spec": ("caffe_compat.net_spec", None),
    "proto": ("caffe_compat.proto", None),
    "caffe_pb2": ("caffe_compat.proto.caffe_pb2", None),
    "layer_types": ("caffe_compat.layer_types.base", "layer_types"),
    "layer_type_list": ("caffe_compat.layer_types.base", "layer_types"),
    "set_engine": ("caffe_compat.engines", "set_engine"),
    "get_engine": ("caffe_compat.engines", "get_engine"),
}
_RUNTIME = ("init_log", "log", "set_mode_cpu", "set_mode_gpu", "set_device", "set_random_seed",
            "solver_count", "set_solver_count", "solver_rank", "set_solver_rank",
            "set_multiprocess", "has_nccl")
_LAZY.update((name, ("caffe_compat.runtime", name)) for name in _RUNTIME)
_SOLVERS = ("SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver",
            "AdamSolver", "get_solver")
_LAZY.update((name, ("caffe_compat.solvers", name)) for name in _SOLVERS)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod_name, attr = _LAZY[name]
        mod = importlib.import_module(mod_name)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'caffe_compat' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
