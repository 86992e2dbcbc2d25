"""``tscaffe train`` on the 2017 teacher-student nets (ts_lenet: stacked LeNet teacher with
lr_mult 0, Softmax -> SigmoidCrossEntropyLoss; ts_cifar10: CIFAR-10 full teacher and
student, LRN, AVE pooling, mean file, two weighted losses) against real Caffe 1.0 training
the very same files from the very same weights and LMDBs (tests/real_caffe_training.py makes
them; tests/data/real_caffe_training.json holds what Caffe logged and snapshotted).

Compared: every line the solver logs, in order, with Caffe's file:line and text, numbers
within rtol 1e-4 (timings aside); and the final snapshot's parameters: shapes, the first 32
values of every blob, their sums and sums of squares.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ORIGINAL, REPO, SHARED, need
from real_caffe_training import SOLVER_LINE, TOOL_LINE, log_lines

RECORD = json.loads((REPO / "tests" / "data" / "real_caffe_training.json").read_text())
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")
# Lines whose numbers are timings or paths, not results.
TIMING = re.compile(r"\(.* iter/s, .*s/\d+ iters?\)")


@pytest.fixture(scope="module", params=sorted(RECORD))
def run(request, tmp_path_factory):
    from real_caffe_training import prepare

    need(SHARED / "datasets" / "mnist")
    need(ORIGINAL)
    case = request.param
    folder = prepare(case, tmp_path_factory.mktemp(case))
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "solver", "train", "-solver", "solver.prototxt",
                           "-weights", "init.caffemodel"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return case, folder, proc.stderr


def test_solver_log_equals_caffes(run):
    case, _, log = run
    ours, caffe = log_lines(log, SOLVER_LINE), RECORD[case]["solver_lines"]
    assert len(ours) == len(caffe), f"{len(ours)} solver lines, Caffe logged {len(caffe)}"
    for (src_o, msg_o), (src_c, msg_c) in zip(ours, caffe):
        assert src_o == src_c, (msg_o, msg_c)
        msg_o, msg_c = TIMING.sub("", msg_o), TIMING.sub("", msg_c)
        assert NUMBER.sub("#", msg_o) == NUMBER.sub("#", msg_c), (msg_o, msg_c)
        a = np.array([float(x) for x in NUMBER.findall(msg_o)])
        b = np.array([float(x) for x in NUMBER.findall(msg_c)])
        # Caffe prints 6 significant digits: rtol 1e-4 is beyond its print precision.
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=f"{case}: {msg_c}")


def test_snapshot_equals_caffes(run, tmp_path_factory):
    """Within 1e-4 relative and 1e-5 of each array's RMS, widened by how far our run moves
    under rounding-sized perturbations (rounding_spread.py): ts_cifar10's random images hold
    near-ties that flip after about ten steps, after which the runs part by ~1e-6."""
    from caffe_compat.io import load_caffemodel_arrays
    from rounding_spread import SPREAD_FACTOR, perturbed_runs, spread_of

    case, folder, _ = run
    iters = max(int(m) for m in re.findall(r"snap_iter_(\d+)\.caffemodel", " ".join(os.listdir(folder))))
    ours = load_caffemodel_arrays(os.path.join(folder, f"snap_iter_{iters}.caffemodel"))
    caffe = RECORD[case]["snapshot"]
    got = {f"{layer}/{k}": np.asarray(a, np.float64) for layer, blobs in ours.items()
           for k, a in enumerate(blobs)}
    assert sorted(got) == sorted(caffe)
    perturbed = perturbed_runs(folder, tmp_path_factory.mktemp(f"{case}_perturbed"))
    for name, want in caffe.items():
        a = got[name]
        assert list(a.shape) == want["shape"], name
        layer, k = name.rsplit("/", 1)
        others = [np.asarray(p[0][layer][int(k)], np.float64) for p in perturbed]
        rms = np.sqrt(want["sumsq"] / a.size)
        spread = spread_of(a, others)
        head = a.ravel()[:32]
        np.testing.assert_allclose(head, want["head"], rtol=1e-4,
                                   atol=1e-5 * rms + SPREAD_FACTOR * spread + 1e-12,
                                   err_msg=f"{case} {name}: first values")
        spread_sumsq = max(abs((a * a).sum() - (o * o).sum()) for o in others)
        np.testing.assert_allclose((a * a).sum(), want["sumsq"], rtol=1e-4,
                                   atol=SPREAD_FACTOR * spread_sumsq + 1e-12,
                                   err_msg=f"{case} {name}: sum of squares")
        spread_sum = max(abs(a.sum() - o.sum()) for o in others)
        np.testing.assert_allclose(a.sum(), want["sum"], rtol=1e-4,
                                   atol=1e-5 * rms * a.size + SPREAD_FACTOR * spread_sum,
                                   err_msg=f"{case} {name}: sum")


# caffe time's lines whose numbers are not results: milliseconds, and the initial loss of
# weights its own fillers drew at random (caffe time loads no weights).
TIMED = re.compile(r"(forward-backward time|forward|backward|pass|Forward-Backward|Total Time|"
                   r"Initial loss): ")


def _same_lines(ours, caffe, what):
    assert len(ours) == len(caffe), f"{what}: {len(ours)} lines, Caffe printed {len(caffe)}"
    for (src_o, msg_o), (src_c, msg_c) in zip(ours, caffe):
        assert src_o == src_c, (what, msg_o, msg_c)
        assert NUMBER.sub("#", msg_o) == NUMBER.sub("#", msg_c), (what, msg_o, msg_c)
        if TIMED.search(msg_c):
            continue
        a = np.array([float(x) for x in NUMBER.findall(msg_o)])
        b = np.array([float(x) for x in NUMBER.findall(msg_c)])
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=f"{what}: {msg_c}")


def test_train_tool_lines_equal_caffes(run):
    case, _, log = run
    _same_lines(log_lines(log, TOOL_LINE), RECORD[case]["train_tool_lines"], f"{case} train")


@pytest.mark.parametrize("command", ["test", "time"])
def test_test_and_time_commands_print_caffes_lines(run, command):
    """`tscaffe test` on the initial weights and `tscaffe time`: Caffe's caffe.cpp lines, in
    order, with its file:line; test scores within 1e-4 of Caffe's."""
    case, folder, _ = run
    extra = ["-weights", "init.caffemodel"] if command == "test" else []
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "solver", command, "-model", "net.prototxt",
                           "-iterations", "2"] + extra, cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _same_lines(log_lines(proc.stderr, TOOL_LINE), RECORD[case][f"{command}_tool_lines"], f"{case} {command}")


def test_bench_reads_real_caffe_time_logs(monkeypatch):
    """bench/bench_lenet.py parses `caffe time` output: fed the lines real Caffe printed
    (recorded), its patterns find every layer's forward and backward time and both averages."""
    # importing the benchmark sets OPENBLAS_NUM_THREADS: restore it afterwards
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    from bench_lenet import CAFFE_AVERAGE, CAFFE_TIME_LINE

    for case in RECORD:
        lines = RECORD[case]["time_tool_lines"]
        log = "\n".join(f"I1127 15:00:00.000000  1234 {src}] {msg}" for src, msg in lines)
        per_layer = CAFFE_TIME_LINE.findall(log)
        layers = {name for name, _, _ in per_layer}
        assert len(per_layer) == 2 * len(layers) > 0, case
        assert sum(1 for _, which, _ in per_layer if which == "forward") == len(layers)
        assert set(dict(CAFFE_AVERAGE.findall(log))) == {"Forward", "Backward"}, case
