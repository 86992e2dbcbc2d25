"""solver: tscaffe's training side above caffe_compat (commands, teachers, the distill job,
logs).

pycaffe's solver surface is caffe_compat's (``caffe_compat.solvers``); it is reachable here
too: ``solver.get_solver(path)`` and the per-type classes. Importing this package makes the
solvers read prototxt files through ``prototxt.io`` (errors that explain more).
"""
import caffe_compat  # noqa: F401  (first, so its OpenBLAS setting precedes numpy)
from caffe_compat.solvers import use_readers as _use_readers
from prototxt.io import read_net as _read_net, read_solver as _read_solver

_use_readers(net=_read_net, solver=_read_solver)

_LAZY = {name: ("caffe_compat.solvers", name) for name in (
    "get_solver", "SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver",
    "AdaDeltaSolver", "AdamSolver")}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod_name, attr = _LAZY[name]
        return getattr(importlib.import_module(mod_name), attr)
    raise AttributeError(f"module 'solver' has no attribute '{name}'")
