"""Learning-rate policies against Caffe's rates (trajectory.npz ``lr`` of every variant)."""
import numpy as np
import pytest

from conftest import CAFFE_REF, need

VARIANTS = ["sgd_inv", "sgd_step_mult", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
            "sgd_itersize", "sgd_clip", "sgd_l1"]


def solver_param(text):
    from google.protobuf import text_format

    from caffe_compat.proto import caffe_pb2

    return text_format.Parse(text, caffe_pb2.SolverParameter())


@pytest.mark.parametrize("variant", VARIANTS)
def test_lr_at_equals_caffe(variant):
    from prototxt.io import read_solver
    from caffe_compat.solvers.lr_policies import lr_at

    folder = need(CAFFE_REF / "solvers" / variant)
    param = read_solver(str(folder / "solver.prototxt"))
    caffe = np.load(folder / "trajectory.npz")["lr"]
    ours = np.array([lr_at(param, i) for i in range(len(caffe))], dtype=np.float32)
    np.testing.assert_allclose(ours, caffe, rtol=1e-6, err_msg=param.lr_policy)


def test_policies_cover_caffes_list():
    from caffe_compat.solvers.lr_policies import POLICIES

    assert set(POLICIES) == {"fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid",
                             "warmup_inv"}   # the last one is tscaffe's own


def test_warmup_inv_ramps_then_follows_inv():
    """Linear warm-up over stepsize iterations, then Caffe's inv (its own test above)."""
    from caffe_compat.solvers.lr_policies import lr_at

    p = solver_param('lr_policy: "warmup_inv" base_lr: 0.01 gamma: 0.0001 power: 0.75 stepsize: 100')
    inv = solver_param('lr_policy: "inv" base_lr: 0.01 gamma: 0.0001 power: 0.75')
    for it in (0, 9, 49, 98):
        assert lr_at(p, it) == pytest.approx(lr_at(inv, it) * (it + 1) / 100, rel=1e-6)
    for it in (99, 100, 1000):
        assert lr_at(p, it) == pytest.approx(lr_at(inv, it), rel=1e-6)


def test_warmup_inv_needs_stepsize():
    from caffe_compat.errors import SolverError
    from caffe_compat.solvers.lr_policies import lr_at

    with pytest.raises(SolverError, match="stepsize: lr_policy 'warmup_inv' needs stepsize > 0"):
        lr_at(solver_param('lr_policy: "warmup_inv" base_lr: 0.01 gamma: 0.0001 power: 0.75'), 0)


def test_multistep_counts_reached_stepvalues():
    from caffe_compat.solvers.lr_policies import lr_at

    p = solver_param('lr_policy: "multistep" base_lr: 1 gamma: 0.1 stepvalue: 3 stepvalue: 5')
    rates = [lr_at(p, i) for i in range(7)]
    np.testing.assert_allclose(rates, [1, 1, 1, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)


def test_unknown_policy_names_the_field():
    from caffe_compat.errors import SolverError
    from caffe_compat.solvers.lr_policies import lr_at

    with pytest.raises(SolverError, match=r"lr_policy.*'cosine'"):
        lr_at(solver_param('lr_policy: "cosine" base_lr: 0.1'), 0)


def test_step_needs_stepsize():
    from caffe_compat.errors import SolverError
    from caffe_compat.solvers.lr_policies import lr_at

    with pytest.raises(SolverError, match="stepsize"):
        lr_at(solver_param('lr_policy: "step" base_lr: 0.1 gamma: 0.5'), 0)
