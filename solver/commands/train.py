"""``tscaffe train -solver S [-weights W | -snapshot S]``: Caffe's ``caffe train``.

Flags as Caffe's (one or two dashes): ``-solver``, ``-weights`` (comma-separated
caffemodels to fine-tune from), ``-snapshot`` (a .solverstate to resume from; not together
with ``-weights``), ``-sigint_effect`` / ``-sighup_effect`` (stop, snapshot or none;
defaults stop / snapshot), ``-level``, ``-stage``. ``-iterations N`` (a tscaffe addition)
overrides the solver's ``max_iter``. ``-gpu`` is accepted and ignored (CPU only). The log
goes to stderr, in Caffe's format.
"""
from caffe_compat.errors import SolverError

from solver import log


def add_arguments(parser):
    parser.add_argument("-solver", "--solver", required=True, help="solver prototxt")
    parser.add_argument("-weights", "--weights", default="",
                        help="caffemodel(s) to fine-tune from, separated by ','")
    parser.add_argument("-snapshot", "--snapshot", default="", help=".solverstate to resume from")
    parser.add_argument("-sigint_effect", "--sigint_effect", default="stop",
                        choices=("stop", "snapshot", "none"))
    parser.add_argument("-sighup_effect", "--sighup_effect", default="snapshot",
                        choices=("stop", "snapshot", "none"))
    parser.add_argument("-level", "--level", type=int, default=0, help="train net state level")
    parser.add_argument("-stage", "--stage", default="", help="train net stages, separated by ','")
    parser.add_argument("-iterations", "--iterations", type=int, default=None,
                        help="override max_iter (tscaffe addition)")
    parser.add_argument("-gpu", "--gpu", default="", help="ignored: tscaffe computes on the CPU")


def run(args):
    from prototxt.io import read_solver
    from caffe_compat.solvers import get_solver

    if args.snapshot and args.weights:
        raise SolverError("Give a snapshot to resume training or weights to finetune but not both "
                          "(-snapshot and -weights were both given).")
    param = read_solver(args.solver)
    param.train_state.level = args.level
    # caffe.cpp splits the -stage flag on ',' even when it is empty: one stage "".
    param.train_state.stage.extend(args.stage.split(","))
    if args.iterations is not None:
        if args.iterations < 0:
            raise SolverError(f"-iterations: must be >= 0, got {args.iterations}")
        param.max_iter = args.iterations
    del param.weights[:]
    if args.weights:
        param.weights.append(args.weights)
    if args.gpu:
        log.warning(log.CAFFE_USE_CPU, f"-gpu {args.gpu} ignored: tscaffe computes on the CPU")
    log.install_glog_handler()
    log.info(log.CAFFE_USE_CPU, "Use CPU.")
    solver = get_solver(param, sigint_effect=args.sigint_effect,
                        sighup_effect=args.sighup_effect)
    if args.snapshot:
        log.info(log.CAFFE_RESUMING, f"Resuming from {args.snapshot}")
        solver.restore(args.snapshot)
    log.info(log.CAFFE_STARTING, "Starting Optimization")
    solver.solve()
    log.info(log.CAFFE_DONE, "Optimization Done.")
    return 0
