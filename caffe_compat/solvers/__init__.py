"""Caffe 1.0's solvers laid out as Caffe lays them out, with pycaffe's surface.

    s = caffe_compat.solvers.get_solver("lenet_solver.prototxt")   # type from ``type``
    s.net.copy_from("init.caffemodel")
    s.step(10)            # or s.solve(); s.snapshot(); s.restore("x.solverstate")

==================  ===================================================================
solver.py           Solver: the loop, testing, snapshots, signals, state for observers
sgd_solver.py       SGDSolver: rate, clipping, regularization, history; momentum SGD
nesterov_solver.py  NesterovSolver(SGDSolver)     adagrad_solver.py  AdaGradSolver
rmsprop_solver.py   RMSPropSolver                 adadelta_solver.py AdaDeltaSolver
adam_solver.py      AdamSolver
lr_policies.py      the learning-rate policies
factory.py          SOLVER_TYPES, get_solver
checks.py, nets.py, testing.py, snapshot.py, signals.py, reading.py: the solver's parts
==================  ===================================================================
"""
from .reading import use_readers
from .signals import NONE, SIGNAL_EFFECTS, SNAPSHOT, STOP

_LAZY = {
    "Solver": "solver", "SolverState": "solver", "SGDSolver": "sgd_solver",
    "NesterovSolver": "nesterov_solver", "AdaGradSolver": "adagrad_solver",
    "RMSPropSolver": "rmsprop_solver", "AdaDeltaSolver": "adadelta_solver",
    "AdamSolver": "adam_solver", "SOLVER_TYPES": "factory", "get_solver": "factory",
    "validate": "factory",
}


def __getattr__(name):
    """The solver classes load on first use (the ``solver`` package imports this one at
    every command's start)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["use_readers", "NONE", "STOP", "SNAPSHOT", "SIGNAL_EFFECTS"] + list(_LAZY)
