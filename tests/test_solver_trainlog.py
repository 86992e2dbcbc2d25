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


@pytest.fixture(scope="module")
def perturbed_snapshots(trained, tmp_path_factory):
    """Our run repeated with rounding-sized noise (see rounding_spread.py)."""
    from rounding_spread import perturbed_runs

    ref, work = trained
    return perturbed_runs(work, tmp_path_factory.mktemp("perturbed"))


def test_snapshot_at_60_equals_caffes(our_log, trained, perturbed_snapshots):
    """Within 1e-4 relative and 1e-5 of each array's scale, widened by how far our run moves
    under rounding-sized perturbations (rounding_spread.py): Sandybridge's or Nehalem's
    OpenBLAS kernel moves conv1 by ~2e-4 of its scale over these 60 steps."""
    from caffe_compat.io import load_caffemodel_arrays, read_solverstate, solverstate_history
    from rounding_spread import assert_within, spread_of

    ref, work = trained
    ours = load_caffemodel_arrays(str(work / "lenet_iter_60.caffemodel"))
    caffe = load_caffemodel_arrays(str(ref / "lenet_iter_60.caffemodel"))
    assert list(ours) == list(caffe)
    for layer in caffe:
        for k, (a, b) in enumerate(zip(ours[layer], caffe[layer])):
            spread = spread_of(a, [p[0][layer][k] for p in perturbed_snapshots])
            assert_within(a, b, spread, f"{layer}/{k}")
    s_ours = read_solverstate(str(work / "lenet_iter_60.solverstate"))
    s_caffe = read_solverstate(str(ref / "lenet_iter_60.solverstate"))
    assert s_ours.iter == s_caffe.iter == 60
    assert s_ours.learned_net == s_caffe.learned_net == "lenet_iter_60.caffemodel"
    for k, (a, b) in enumerate(zip(solverstate_history(s_ours), solverstate_history(s_caffe))):
        assert_within(a, b, spread_of(a, [p[1][k] for p in perturbed_snapshots]), f"history {k}")


def test_test_command_scores_the_snapshot(our_log, trained, capfd, monkeypatch):
    from solver.cli import main

    ref, work = trained
    monkeypatch.chdir(work)
    capfd.readouterr()
    assert main(["test", "-model", "net.prototxt", "-weights", str(ref / "lenet_iter_60.caffemodel"),
                 "-iterations", "6"]) == 0
    err = capfd.readouterr().err
    assert len(re.findall(r"caffe\.cpp:304\] Batch \d, accuracy = ", err)) == 6
    # Caffe's final test pass at iteration 60 (train.log) covered the same 600 records.
    assert re.search(r"caffe\.cpp:321\] accuracy = 0\.881667\n", err)
    assert re.search(r"caffe\.cpp:321\] loss_aux = 0\.36971 \(\* 0\.5 = 0\.184855 loss\)\n", err)
