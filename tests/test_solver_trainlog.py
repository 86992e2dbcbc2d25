"""``tscaffe train`` on ../shared/caffe-reference/trainlog against Caffe's train.log.

The run reproduces ``caffe train -solver solver.prototxt -weights init.caffemodel`` from
inside a folder laid out like the fixture's (``../formats`` links to the fixture's, so the
net's relative LMDB path resolves; nothing is written into ../shared). Compared: every
train/test output, loss and rate line (within 1e-4), the glog format and source locations
of the solver's lines, the parse-log tables of both logs, the snapshot at iteration 60 and
``tscaffe test`` on that snapshot.
"""
import re

import numpy as np
import pytest

from conftest import CAFFE_REF, need

GLOG = re.compile(r"^([IWEF])(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6}) +(\d+) ([\w.]+:\d+)\] (.*)$")
# Lines whose content (numbers aside) must be Caffe's, with Caffe's file:line.
SOLVER_SOURCES = ("solver.cpp", "sgd_solver.cpp")


@pytest.fixture(scope="module")
def trained(trainlog_run):
    ref, work, _ = trainlog_run
    return ref, work


@pytest.fixture(scope="module")
def our_log(trainlog_run):
    _, work, log = trainlog_run
    (work / "train.log").write_text(log)
    return log


def solver_lines(text):
    """(source, message) of the solver's glog lines, in order."""
    out = []
    for line in text.splitlines():
        m = GLOG.match(line)
        if m and m.group(9).split(":")[0] in SOLVER_SOURCES:
            out.append((m.group(9), m.group(10)))
    return out


def numbers(message):
    return [float(x) for x in re.findall(r"[-+]?\d+\.?\d*(?:e[-+]?\d+)?", message)]


def test_every_line_is_glog_formatted(our_log):
    prefixed = [l for l in our_log.splitlines() if GLOG.match(l)]
    assert len(prefixed) > 50
    # Lines without a prefix are only the continuation of a multi-line message (the
    # solver parameters printed at start), as in Caffe's log.
    first_prefixed = our_log.splitlines().index(prefixed[0])
    assert first_prefixed == 0


def test_solver_lines_match_caffes(our_log):
    caffe = solver_lines(need(CAFFE_REF / "trainlog/train.log").read_text())
    ours = solver_lines(our_log)
    skip = ("Initializing solver", "Creating training net", "Finetuning", "Creating test net",
            "Solver scaffolding")  # construction lines: checked for presence below
    caffe_run = [x for x in caffe if not x[1].startswith(skip)]
    ours_run = [x for x in ours if not x[1].startswith(skip)]
    assert len(ours_run) == len(caffe_run)
    for (src_o, msg_o), (src_c, msg_c) in zip(ours_run, caffe_run):
        assert src_o == src_c, (msg_o, msg_c)
        if " iter/s, " in msg_c:  # timings differ; the rest must not
            msg_o = re.sub(r"\(.*iters\)", "", msg_o)
            msg_c = re.sub(r"\(.*iters\)", "", msg_c)
        assert re.sub(r"[-+\d.e]+", "#", msg_o) == re.sub(r"[-+\d.e]+", "#", msg_c), (msg_o, msg_c)
        np.testing.assert_allclose(numbers(msg_o), numbers(msg_c), rtol=1e-4, err_msg=msg_c)
    for start in skip:
        assert any(m.startswith(start) for _, m in ours), start


def test_parse_log_tables_equal_caffes(our_log, trained):
    from solver.parse_log import parse_log

    ref, work = trained
    ours = parse_log(str(work / "train.log"))
    caffe = parse_log(str(ref / "train.log"))
    for kind, mine, theirs in zip(("train", "test"), ours, caffe):
        assert len(mine) == len(theirs) > 0, kind
        for a, b in zip(mine, theirs):
            assert list(a) == list(b)
            assert a["NumIters"] == b["NumIters"]
            for key in list(b)[2:]:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-4, err_msg=f"{kind} {key}")
    # The tables of Caffe's log, as Caffe's parse_log.py writes them.
    train, test = caffe
    assert [r["NumIters"] for r in test] == [0, 20, 40, 60]
    assert [r["accuracy"] for r in test] == [0.085, 0.518333, 0.823333, 0.881667]
    assert [r["NumIters"] for r in train] == [0, 10, 20, 30, 40, 50]
    # A train row takes the last rate logged before it: the rate line follows the outputs.
    assert [r["LearningRate"] for r in train][:3] == [0.01, 0.01, 0.00999251]


def test_parse_log_command_writes_csv(our_log, trained, tmp_path):
    from solver.cli import main
    from solver.parse_log import read_csv

    ref, work = trained
    assert main(["parse-log", str(ref / "train.log"), str(tmp_path)]) == 0
    header = (tmp_path / "train.log.test").read_text().splitlines()[0]
    assert header == "NumIters,Seconds,LearningRate,accuracy,loss,loss_aux"
    rows = read_csv(str(tmp_path / "train.log.train"))
    assert [r["loss_aux"] for r in rows][:2] == [2.37776, 2.08157]


# Per-element tolerance of the snapshot at 60: rtol 1e-4, 1e-5 of the array's scale, and
# SPREAD_FACTOR times how far our own run moves when every GEMM layer's output carries noise
# of TOP_NOISE of its largest value, the size of the differences between BLAS kernels'
# float32 sums. Sixty SGD steps with momentum amplify rounding (a max-pooling or ReLU decision that
# flips reroutes a gradient): another kernel or thread count moves conv1's weights by up to
# ~2e-4 of their scale; the perturbed runs measure that amplification where the test runs.
SPREAD_FACTOR = 10
TOP_NOISE = 1e-7
GEMM_LAYERS = ("Convolution", "InnerProduct")  # the outputs whose sums a BLAS orders


@pytest.fixture(scope="module")
def perturbed_snapshots(trained, tmp_path_factory, seeds=(1, 2)):
    """[(weights by layer, history arrays)] of our run repeated in-process with ulp noise on
    the data blob right after the Data layer fills it, one per seed."""
    import os

    import caffe_compat as caffe
    from caffe_compat.io import load_caffemodel_arrays, read_solverstate, solverstate_history
    from prototxt.io import read_solver
    from solver import get_solver

    ref, work = trained
    out = []
    cwd = os.getcwd()
    os.chdir(work)  # the net's LMDB path is relative, as Caffe resolves it
    try:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            param = read_solver("solver.prototxt")
            param.snapshot_prefix = str(tmp_path_factory.mktemp(f"perturbed{seed}") / "lenet")
            s = get_solver(param)
            s.net.copy_from("init.caffemodel")
            for net in [s.net] + list(s.test_nets):
                net.copy_from("init.caffemodel")
            def perturb(index, net=s.net, rng=rng):
                if net.layers[index].type not in GEMM_LAYERS:
                    return
                for blob in net.layer_tops(index):
                    if blob.data.size > 1:
                        d = blob.data
                        d += (TOP_NOISE * float(np.abs(d).max()) * rng.standard_normal(d.shape)).astype(np.float32)

            s.net.after_forward(perturb)
            s.solve()
            model = param.snapshot_prefix + "_iter_60.caffemodel"
            state = read_solverstate(param.snapshot_prefix + "_iter_60.solverstate")
            out.append((load_caffemodel_arrays(model), solverstate_history(state)))
    finally:
        os.chdir(cwd)
    return out


def within(ours, caffe, spread, what):
    ours, caffe = np.asarray(ours, np.float64), np.asarray(caffe, np.float64)
    # The spread is taken over the whole array: which elements a flipped pooling decision
    # moves differs from run to run, how far they move does not.
    allowed = 1e-5 * np.abs(caffe).max() + SPREAD_FACTOR * spread.max() + 1e-4 * np.abs(caffe)
    excess = np.abs(ours - caffe) - allowed
    if (excess > 0).any():
        i = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), caffe.shape))
        raise AssertionError(f"{what}: {int((excess > 0).sum())}/{caffe.size} elements differ from "
                             f"Caffe's; worst at {i}: ours {ours[i]:.8g}, Caffe {caffe[i]:.8g}, "
                             f"allowed {allowed[i]:.3g}")


def test_snapshot_at_60_equals_caffes(our_log, trained, perturbed_snapshots):
    from caffe_compat.io import load_caffemodel_arrays, read_solverstate, solverstate_history

    ref, work = trained
    ours = load_caffemodel_arrays(str(work / "lenet_iter_60.caffemodel"))
    caffe = load_caffemodel_arrays(str(ref / "lenet_iter_60.caffemodel"))
    assert list(ours) == list(caffe)
    for layer in caffe:
        for k, (a, b) in enumerate(zip(ours[layer], caffe[layer])):
            spread = np.max([np.abs(np.asarray(a, np.float64) - p[0][layer][k]) for p in perturbed_snapshots], axis=0)
            within(a, b, spread, f"{layer}/{k}")
    s_ours = read_solverstate(str(work / "lenet_iter_60.solverstate"))
    s_caffe = read_solverstate(str(ref / "lenet_iter_60.solverstate"))
    assert s_ours.iter == s_caffe.iter == 60
    assert s_ours.learned_net == s_caffe.learned_net == "lenet_iter_60.caffemodel"
    for k, (a, b) in enumerate(zip(solverstate_history(s_ours), solverstate_history(s_caffe))):
        spread = np.max([np.abs(np.asarray(a, np.float64) - p[1][k]) for p in perturbed_snapshots], axis=0)
        within(a, b, spread, f"history {k}")


def test_test_command_scores_the_snapshot(our_log, trained, capfd, monkeypatch):
    from solver.cli import main

    ref, work = trained
    monkeypatch.chdir(work)
    capfd.readouterr()
    assert main(["test", "-model", "net.prototxt", "-weights", str(ref / "lenet_iter_60.caffemodel"),
                 "-iterations", "6"]) == 0
    err = capfd.readouterr().err
    assert len(re.findall(r"caffe\.cpp:313\] Batch \d, accuracy = ", err)) == 6
    # Caffe's final test pass at iteration 60 (train.log) covered the same 600 records.
    assert re.search(r"caffe\.cpp:330\] accuracy = 0\.881667\n", err)
    assert re.search(r"caffe\.cpp:330\] loss_aux = 0\.36971 \(\* 0\.5 = 0\.184855 loss\)\n", err)
