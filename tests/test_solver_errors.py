"""Bad solver files and command lines give clear errors naming the field."""
import pytest

from conftest import CAFFE_REF, need

NET = CAFFE_REF / "solvers/sgd_inv/net.prototxt"


def write_solver(tmp_path, body, net=True):
    text = (f'net: "{need(NET)}"\n' if net else "") + body
    path = tmp_path / "solver.prototxt"
    path.write_text(text)
    return str(path)


def expect(tmp_path, body, pattern, net=True):
    from caffe_compat.errors import CaffeError
    from solver import get_solver

    with pytest.raises(CaffeError, match=pattern):
        get_solver(write_solver(tmp_path, body, net))


BASE = 'base_lr: 0.01\nlr_policy: "fixed"\nmax_iter: 10\n'


def test_unknown_lr_policy(tmp_path):
    expect(tmp_path, 'base_lr: 0.01\nlr_policy: "cosine"\n', r"lr_policy: unknown .*'cosine'")


def test_negative_max_iter(tmp_path):
    expect(tmp_path, 'base_lr: 0.01\nlr_policy: "fixed"\nmax_iter: -5\n', r"max_iter: must be >= 0, got -5")


def test_unknown_solver_type(tmp_path):
    expect(tmp_path, BASE + 'type: "LBFGS"\n', r"type: unknown solver type 'LBFGS'")


def test_missing_net_file(tmp_path):
    expect(tmp_path, 'net: "no/such/net.prototxt"\n' + BASE,
           r"net: net file not found: 'no/such/net.prototxt'", net=False)


def test_no_train_net(tmp_path):
    expect(tmp_path, BASE, r"net: the solver must specify a train net", net=False)


def test_unknown_regularization(tmp_path):
    expect(tmp_path, BASE + 'regularization_type: "L3"\n', r"regularization_type: .*'L3'")


def test_hdf5_snapshots_refused(tmp_path):
    expect(tmp_path, BASE + "snapshot_format: HDF5\n", r"snapshot_format: HDF5")


def test_snapshot_without_prefix(tmp_path):
    expect(tmp_path, BASE + "snapshot: 5\n", r"snapshot_prefix")


def test_unwritable_snapshot_prefix(tmp_path):
    expect(tmp_path, BASE + f'snapshot: 5\nsnapshot_prefix: "{tmp_path}/missing/dir/x"\n',
           r"snapshot_prefix: cannot write")


def test_test_iter_needs_test_interval(tmp_path):
    expect(tmp_path, BASE + "test_iter: 2\n", r"test_interval")


def test_prototxt_syntax_error_has_a_location(tmp_path):
    expect(tmp_path, BASE + "max_iter 10 }\n", r"solver\.prototxt:\d+:\d+")


@pytest.mark.parametrize("reader", ["pycaffe", "tscaffe"])
def test_solver_syntax_error_says_its_position_once(tmp_path, reader):
    """file:line:col, then protobuf's message without its own 'line:col : ' prefix, from
    caffe_compat's own reader (pycaffe's SGDSolver before prototxt is imported) and from
    the solver package's."""
    from caffe_compat.errors import CaffeError
    from caffe_compat.solvers import reading
    from solver import get_solver

    path = write_solver(tmp_path, BASE + "momentum: fast\n")
    with pytest.raises(CaffeError) as info:
        (reading._solver_text if reader == "pycaffe" else get_solver)(path)
    text = str(info.value)
    assert text.startswith(f"{path}:5:11: "), text
    assert "5:11" not in text[len(path) + 6:], text


def test_cli_refuses_weights_and_snapshot_together(tmp_path, capsys):
    from solver.cli import main

    solver = write_solver(tmp_path, BASE)
    rc = main(["train", "-solver", solver, "-weights", "a.caffemodel", "-snapshot", "a.solverstate"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "Give a snapshot to resume training or weights to finetune but not both" in err
    assert "Traceback" not in err


def test_cli_missing_weights_names_the_flag(tmp_path, capsys):
    from solver.cli import main

    solver = write_solver(tmp_path, BASE)
    assert main(["train", "-solver", solver, "-weights", str(tmp_path / "none.caffemodel")]) == 1
    assert "weights: file not found" in capsys.readouterr().err


def test_restore_refuses_hdf5_and_missing_files(tmp_path):
    from caffe_compat.errors import SolverError
    from solver import get_solver

    s = get_solver(write_solver(tmp_path, BASE))
    with pytest.raises(SolverError, match=r"HDF5"):
        s.restore("x_iter_4.solverstate.h5")
    with pytest.raises(SolverError, match=r"not found"):
        s.restore(str(tmp_path / "x_iter_4.solverstate"))


def test_restore_refuses_a_state_of_another_solver_type(tmp_path):
    """An SGD solverstate (one history set) does not fit Adam (two sets)."""
    from caffe_compat.errors import SolverError
    from solver import get_solver

    folder = need(CAFFE_REF / "solvers/sgd_inv")
    s = get_solver(write_solver(tmp_path, BASE + 'type: "Adam"\n'))
    with pytest.raises(SolverError, match=r"8 history blobs.*needs 16"):
        s.restore(str(folder / "snap_iter_30.solverstate"))
