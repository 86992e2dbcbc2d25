"""The solver registry (Caffe's solver_factory): a type name -> its class, and pycaffe's
``get_solver``."""
from ..errors import SolverError
from ..proto import caffe_pb2
from . import checks
from .adadelta_solver import AdaDeltaSolver
from .adagrad_solver import AdaGradSolver
from .adam_solver import AdamSolver
from .nesterov_solver import NesterovSolver
from .reading import read_solver
from .rmsprop_solver import RMSPropSolver
from .sgd_solver import SGDSolver

SOLVER_TYPES = {
    "SGD": SGDSolver,
    "Nesterov": NesterovSolver,
    "AdaGrad": AdaGradSolver,
    "RMSProp": RMSPropSolver,
    "AdaDelta": AdaDeltaSolver,
    "Adam": AdamSolver,
}


def validate(param):
    """Caffe's checks on a SolverParameter, naming the field (checks.py)."""
    checks.validate(param, SOLVER_TYPES)


def get_solver(path_or_param, **kwargs):
    """pycaffe's ``caffe.get_solver``: the solver class named by the file's ``type``."""
    param = path_or_param
    if not isinstance(param, caffe_pb2.SolverParameter):
        param = read_solver(param)
    cls = SOLVER_TYPES.get(param.type)
    if cls is None:
        raise SolverError(f"type: unknown solver type '{param.type}' "
                          f"(known: {', '.join(SOLVER_TYPES)})")
    return cls(param, **kwargs)
