"""Whole runs: resuming bit for bit, Ctrl-C, a loss that becomes NaN, the signal handlers."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import CAFFE_REF, REPO, need

TRAINLOG = CAFFE_REF / "trainlog"
MNIST_LMDB = CAFFE_REF / "formats/mnist_lmdb/lmdb"
SGD_INV = CAFFE_REF / "solvers/sgd_inv"


def dropout_net():
    """The trainlog LeNet (LMDB Data layers, both phases) with a Dropout after relu1, so that
    a resume must also restore the random generator and the readers' positions."""
    from caffe_compat.proto import caffe_pb2
    from prototxt.io import read_net

    net = read_net(str(need(TRAINLOG / "net.prototxt")))
    out = caffe_pb2.NetParameter(name=net.name)
    for layer in net.layer:
        if layer.type == "Data":
            layer.data_param.source = str(need(MNIST_LMDB))
        out.layer.add().CopyFrom(layer)
        if layer.name == "relu1":
            drop = out.layer.add(name="drop1", type="Dropout", bottom=["ip1"], top=["ip1"])
            drop.dropout_param.dropout_ratio = 0.3
    return out


def resume_param(prefix):
    from caffe_compat.proto import caffe_pb2

    p = caffe_pb2.SolverParameter(
        base_lr=0.01, momentum=0.9, weight_decay=5e-4, lr_policy="inv", gamma=1e-4, power=0.75,
        max_iter=8, snapshot=4, snapshot_prefix=str(prefix), test_interval=3, display=2,
        random_seed=7, type="Nesterov")
    p.test_iter.append(1)
    p.net_param.CopyFrom(dropout_net())
    return p


def params_of(net):
    return {n: b.data.copy() for n, b in zip(net.learnable_param_names, net.learnable_params)}


@pytest.fixture
def pinned_threads():
    """Bit-exact repetition holds at a fixed thread count: the measured count
    (caffe_compat.thread_tuner) may give OpenBLAS a different count in each run, and its
    products can differ in the last bits between counts (caffe_compat.blas_threads). And on
    Caffe's path: the fast engine (caffe_compat.engines) times its kernels in each run and
    may pick another, summing in another order."""
    import caffe_compat.engines as engines
    import caffe_compat.parallel as parallel

    parallel.set_num_threads(1)
    engines.set_engine("CAFFE")
    yield
    engines.set_engine(None)
    parallel.set_num_threads(None)


def test_resume_repeats_the_uninterrupted_run_exactly(tmp_path, pinned_threads):
    from caffe_compat.io import load_caffemodel_arrays
    from solver import get_solver

    full = get_solver(resume_param(tmp_path / "full"))
    full.net.copy_from(str(TRAINLOG / "init.caffemodel"))
    full.solve()
    assert full.iter == 8
    assert (tmp_path / "full_iter_4.solverstate.rng.json").exists()

    resumed = get_solver(resume_param(tmp_path / "resumed"))
    resumed.solve(resume_file=str(tmp_path / "full_iter_4.solverstate"))
    assert resumed.iter == 8
    a, b = params_of(full.net), params_of(resumed.net)
    for name in a:
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    for k, (x, y) in enumerate(zip(full.history, resumed.history)):
        np.testing.assert_array_equal(y, x, err_msg=f"history {k}")
    snap_a = load_caffemodel_arrays(str(tmp_path / "full_iter_8.caffemodel"))
    snap_b = load_caffemodel_arrays(str(tmp_path / "resumed_iter_8.caffemodel"))
    for layer in snap_a:
        for x, y in zip(snap_a[layer], snap_b[layer]):
            np.testing.assert_array_equal(x, y)


def test_solve_restores_previous_signal_handlers(tmp_path):
    from solver import get_solver

    p = resume_param(tmp_path / "h")
    p.max_iter, p.snapshot = 1, 0
    del p.test_iter[:]
    p.test_interval = 0
    before = signal.getsignal(signal.SIGINT)
    get_solver(p).solve()
    assert signal.getsignal(signal.SIGINT) is before


def feeding_solver(tmp_path, poison_at):
    from prototxt.io import read_solver
    from solver import get_solver

    folder = need(SGD_INV)
    p = read_solver(str(folder / "solver.prototxt"))
    p.net = str(folder / "net.prototxt")
    p.snapshot_prefix = str(tmp_path / "nan")
    p.snapshot = 2
    s = get_solver(p)
    s.net.copy_from(str(folder / "init.caffemodel"))
    batches = np.load(folder / "batches.npz")

    def feed():
        i = s.iter
        s.net.blobs["data"].data[...] = batches["data"][i]
        if i == poison_at:
            s.net.blobs["data"].data[0, 0, 0, 0] = np.nan
        s.net.blobs["label"].data[...] = batches["label"][i]

    s.add_callback(before_forward=feed)
    return s


def test_nan_loss_stops_with_the_iteration_named(tmp_path):
    from caffe_compat.errors import SolverError
    from caffe_compat.io import read_solverstate

    s = feeding_solver(tmp_path, poison_at=5)
    with pytest.raises(SolverError, match=r"loss became nan at iteration 5"):
        s.solve()
    assert s.iter == 5  # the bad gradients were never applied
    assert all(np.isfinite(b.data).all() for b in s.net.learnable_params)
    state = read_solverstate(str(tmp_path / "nan_iter_4.solverstate"))
    assert state.iter == 4
    assert not (tmp_path / "nan_iter_6.caffemodel").exists()


def write_endless_solver(tmp_path):
    folder = need(SGD_INV)
    text = (f'net: "{folder / "net.prototxt"}"\nbase_lr: 0.01\nmomentum: 0.9\nlr_policy: "fixed"\n'
            f'max_iter: 100000000\ndisplay: 1\nsnapshot_prefix: "{tmp_path / "run"}"\n')
    path = tmp_path / "solver.prototxt"
    path.write_text(text)
    return path


def start_training(solver_path, *extra):
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "solver", "train", "-solver", str(solver_path),
                             *extra], cwd=solver_path.parent, env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def test_sigint_snapshots_and_stops(tmp_path):
    from caffe_compat.io import read_solverstate
    from caffe_compat.net import Net

    solver_path = write_endless_solver(tmp_path)
    proc = start_training(solver_path)
    lines = []
    deadline = time.time() + 60
    for line in proc.stderr:
        lines.append(line)
        if "sgd_solver.cpp:112] Iteration 3, lr" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log[-2000:]
    assert "Optimization stopped early." in log
    states = sorted(tmp_path.glob("run_iter_*.solverstate"))
    assert len(states) == 1
    state = read_solverstate(str(states[0]))
    assert state.iter >= 4
    model = tmp_path / f"run_iter_{state.iter}.caffemodel"
    assert state.learned_net == str(model)
    Net(str(SGD_INV / "net.prototxt"), 1).copy_from(str(model))  # loads back
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))

    # ... and training resumes from it with -snapshot (two more iterations).
    proc = start_training(solver_path, "-snapshot", str(states[0]),
                          "-iterations", str(state.iter + 2))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert f"Iteration {state.iter + 1}, lr = 0.01" in err
    assert (tmp_path / f"run_iter_{state.iter + 2}.solverstate").exists()


def test_sighup_snapshots_and_goes_on(tmp_path):
    """Caffe's default sighup_effect: SNAPSHOT — write a snapshot and keep training."""
    solver_path = write_endless_solver(tmp_path)
    proc = start_training(solver_path)
    lines, hup_sent, snapped_at = [], False, None
    deadline = time.time() + 60
    for line in proc.stderr:
        lines.append(line)
        if time.time() > deadline:
            break
        if not hup_sent and "sgd_solver.cpp:112] Iteration 3, lr" in line:
            proc.send_signal(signal.SIGHUP)
            hup_sent = True
        elif hup_sent and snapped_at is None and "Snapshotting solver state" in line:
            snapped_at = len(lines)
        elif snapped_at is not None and "sgd_solver.cpp:112] Iteration" in line:
            break  # training went on after the snapshot
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log[-2000:]
    assert snapped_at is not None, log[-2000:]
    assert any("Iteration" in l for l in lines[snapped_at:]), "training stopped at SIGHUP"
    # One snapshot from SIGHUP, one from the SIGINT that ended the run, at a later iteration.
    assert len(sorted(tmp_path.glob("run_iter_*.solverstate"))) == 2


def test_average_loss_smooths_the_displayed_loss(tmp_path, capfd):
    """Caffe's smoothed loss is the mean of the last ``average_loss`` iteration losses."""
    import re

    import solver

    folder = need(SGD_INV)
    traj = np.load(folder / "trajectory.npz")
    s = feeding_solver(tmp_path, poison_at=-1)
    s.param.average_loss = 3
    s.param.snapshot = 0
    capfd.readouterr()
    s.step(10)
    shown = [float(x) for x in re.findall(r"solver\.cpp:239\] Iteration \d+ \(.*\), loss = (\S+)\n",
                                          capfd.readouterr().err)]
    caffe = traj["loss"][:10].astype(np.float64)
    expected = [caffe[max(0, i - 2):i + 1].mean() for i in range(10)]
    np.testing.assert_allclose(shown, expected, rtol=2e-5)
    assert isinstance(s, solver.SGDSolver)


def test_per_type_classes_build_their_type(tmp_path):
    import solver

    folder = need(SGD_INV)
    from prototxt.io import read_solver

    p = read_solver(str(folder / "solver.prototxt"))
    p.net = str(folder / "net.prototxt")
    s = solver.AdamSolver(p)
    assert s.param.type == "Adam" and len(s.history) == 16
    assert s.lr == pytest.approx(0.01)


def test_finetune_from_several_caffemodels(tmp_path):
    """``weights: "a,b"``: later files overwrite the layers they hold, in train and test nets."""
    from caffe_compat.io import load_caffemodel_arrays, save_caffemodel
    from prototxt.io import read_solver
    from solver import get_solver

    folder = need(SGD_INV)
    partial = tmp_path / "partial.caffemodel"
    init = load_caffemodel_arrays(str(folder / "init.caffemodel"))
    save_caffemodel(str(partial), {"ip_s2": ("InnerProduct", [a + 1 for a in init["ip_s2"]])})
    p = read_solver(str(folder / "solver.prototxt"))
    p.net = str(folder / "net.prototxt")
    p.test_iter.append(1)
    p.test_interval = 10
    p.weights.append(f"{folder / 'init.caffemodel'},{partial}")
    s = get_solver(p)
    np.testing.assert_array_equal(s.net.params["conv_s1"][0].data, init["conv_s1"][0])
    np.testing.assert_array_equal(s.net.params["ip_s2"][1].data, init["ip_s2"][1] + 1)
    test_net = s.test_nets[0]
    assert test_net.params["ip_s2"][0].data is s.net.params["ip_s2"][0].data  # shared


def test_test_nets_from_test_net_param_and_test_state(tmp_path, capfd):
    from prototxt.io import read_net, read_solver
    from solver import get_solver

    folder = need(SGD_INV)
    p = read_solver(str(folder / "solver.prototxt"))
    p.net = str(folder / "net.prototxt")
    p.test_net_param.add().CopyFrom(read_net(str(folder / "net.prototxt")))
    p.test_iter.extend([1, 2])  # one test_net_param, then one generic instance of `net`
    p.test_interval = 1
    p.test_state.add(stage=["a"])
    p.test_state.add(stage=["b"])
    s = get_solver(p)
    assert len(s.test_nets) == 2
    capfd.readouterr()
    s.step(1)
    err = capfd.readouterr().err
    assert "Iteration 0, Testing net (#0)" in err and "Iteration 0, Testing net (#1)" in err
    assert "Creating test net (#1) specified by net file: " not in err  # logged at construction
    assert all(n.phase == 1 for n in s.test_nets)


def test_test_initialization_false_and_test_compute_loss(tmp_path, capfd):
    """test_initialization: false skips the test at iteration 0; test_compute_loss prints
    Caffe's "Test loss: X" line (the mean of the test net's loss over test_iter passes)."""
    from prototxt.io import read_solver
    from solver import get_solver

    folder = need(SGD_INV)
    p = read_solver(str(folder / "solver.prototxt"))
    p.net = str(folder / "net.prototxt")
    del p.test_iter[:]
    p.test_iter.append(1)
    p.test_interval = 2
    p.test_initialization = False
    p.test_compute_loss = True
    p.snapshot = 0
    p.snapshot_after_train = False
    s = get_solver(p)
    capfd.readouterr()
    s.step(3)
    err = capfd.readouterr().err
    assert "Iteration 0, Testing net" not in err
    assert "Iteration 2, Testing net (#0)" in err
    line = next(l for l in err.splitlines() if "] Test loss: " in l)
    assert "solver.cpp:390]" in line
    (_, means) = s.last_test_scores[0]
    loss = dict(means)["loss"]
    assert float(line.split("Test loss: ")[1]) == pytest.approx(float(loss), rel=1e-5)
