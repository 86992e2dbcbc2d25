"""The solvers as Caffe lays them out (caffe_compat/solvers: the Solver loop, SGDSolver, one
file per rule subclassing it) and the divergence guard as an observer: the solver keeps its
loop, exposes its state, and a divergence is an exception with a ``reason``."""
import importlib

import numpy as np
import pytest


def test_rules_subclass_sgd_one_file_each():
    import caffe_compat.solvers as S

    for name, module in (("NesterovSolver", "nesterov_solver"), ("AdaGradSolver", "adagrad_solver"),
                         ("RMSPropSolver", "rmsprop_solver"), ("AdaDeltaSolver", "adadelta_solver"),
                         ("AdamSolver", "adam_solver")):
        cls = getattr(importlib.import_module(f"caffe_compat.solvers.{module}"), name)
        assert cls is getattr(S, name) and issubclass(cls, S.SGDSolver)
    assert issubclass(S.SGDSolver, S.Solver)
    assert set(S.SOLVER_TYPES) == {"SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"}


def tiny_solver(max_iter, base_lr=0.1, poison_at=None):
    """y = W x fitted to a fixed target by SGD; ``poison_at``: the data holds a NaN the first
    time that iteration runs."""
    from caffe_compat.proto import caffe_pb2
    from caffe_compat.solvers import get_solver
    from google.protobuf import text_format

    net = text_format.Parse("""
      name: "tiny"
      layer { name: "x" type: "Input" top: "x" top: "t"
              input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } } }
      layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y"
              inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.1 } } }
      layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "t" top: "loss" }
    """, caffe_pb2.NetParameter())
    p = caffe_pb2.SolverParameter(base_lr=base_lr, momentum=0.9, lr_policy="fixed",
                                  max_iter=max_iter, display=0, random_seed=3, type="SGD",
                                  snapshot_after_train=False)
    p.net_param.CopyFrom(net)
    s = get_solver(p)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    t = rng.normal(size=(4, 2)).astype(np.float32)
    poisoned = []

    def feed():
        s.net.blobs["x"].data[...] = x
        s.net.blobs["t"].data[...] = t
        if s.iter == poison_at and not poisoned:
            poisoned.append(s.iter)
            s.net.blobs["x"].data[0, 0] = np.nan

    s.add_callback(before_forward=feed)
    return s


def test_divergence_is_an_exception_with_a_reason():
    from caffe_compat.errors import DivergenceError

    s = tiny_solver(10, poison_at=6)
    with pytest.raises(DivergenceError) as e:
        s.solve()
    assert e.value.reason == "loss became nan at iteration 6"
    assert s.iter == 6


def test_guard_observes_rolls_back_and_the_solver_keeps_its_loop():
    from solver.recovery import DivergenceGuard

    s = tiny_solver(120, poison_at=70)
    guard = DivergenceGuard(s, checkpoint_every=25)
    s.solve()
    assert not hasattr(s, "guard"), "the solver is observed, not driven"
    assert s.iter == 120
    assert guard.rollbacks == [(25, "loss became nan at iteration 70", pytest.approx(0.1),
                                pytest.approx(0.05))]
    assert s.base_lr == pytest.approx(0.05)
    assert all(np.isfinite(b.data).all() for b in s.net.learnable_params)


def test_state_round_trip():
    s = tiny_solver(20)
    s.step(5)
    state = s.capture_state()
    w = [b.data.copy() for b in s.net.learnable_params]
    h = [x.copy() for x in s.history]
    s.step(5)
    assert s.iter == 10
    s.restore_state(state)
    assert s.iter == 5 and s.current_step == state.current_step
    for a, b in zip(w, s.net.learnable_params):
        np.testing.assert_array_equal(a, b.data)
    for a, b in zip(h, s.history):
        np.testing.assert_array_equal(a, b)
