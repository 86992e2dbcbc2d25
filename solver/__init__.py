"""solver: Caffe's training side (solvers, lr policies, the loop, logs, teachers, CLI).

pycaffe's solver surface lives here: ``solver.get_solver(path)`` and the per-type classes.
"""
import caffe_compat  # noqa: F401  (first, so its OpenBLAS setting precedes numpy)

_LAZY = {
    "get_solver": ("solver.solvers", "get_solver"),
    "SGDSolver": ("solver.solvers", "SGDSolver"),
    "NesterovSolver": ("solver.solvers", "NesterovSolver"),
    "AdaGradSolver": ("solver.solvers", "AdaGradSolver"),
    "RMSPropSolver": ("solver.solvers", "RMSPropSolver"),
    "AdaDeltaSolver": ("solver.solvers", "AdaDeltaSolver"),
    "AdamSolver": ("solver.solvers", "AdamSolver"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod_name, attr = _LAZY[name]
        return getattr(importlib.import_module(mod_name), attr)
    raise AttributeError(f"module 'solver' has no attribute '{name}'")
