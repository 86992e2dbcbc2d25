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
checks.py, nets.py, snapshot.py, signals.py, reading.py: the solver's parts
==================  ===================================================================
"""
from .adadelta_solver import AdaDeltaSolver
from .adagrad_solver import AdaGradSolver
from .adam_solver import AdamSolver
from .factory import SOLVER_TYPES, get_solver, validate
from .nesterov_solver import NesterovSolver
from .reading import use_readers
from .rmsprop_solver import RMSPropSolver
from .sgd_solver import SGDSolver
from .signals import NONE, SIGNAL_EFFECTS, SNAPSHOT, STOP
from .solver import Solver, SolverState

__all__ = ["Solver", "SolverState", "SGDSolver", "NesterovSolver", "AdaGradSolver",
           "RMSPropSolver", "AdaDeltaSolver", "AdamSolver", "SOLVER_TYPES", "get_solver",
           "validate", "use_readers", "NONE", "STOP", "SNAPSHOT", "SIGNAL_EFFECTS"]
