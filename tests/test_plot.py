"""tscaffe plot: the curves drawn are parse_log's tables (and the log's own lines); the PNG is
a valid image; logs without outputs are clear errors."""
import re

import numpy as np
import pytest
from PIL import Image

from conftest import CAFFE_REF, ORIGINAL, need
from solver.cli import main as cli_main
from solver.parse_log import parse_log
from solver.plot import PlotError, choose_columns, log_series, plot_logs

LOG_2017 = ORIGINAL / "cifar10" / "graphs" / "output-cifar10-025.txt"
TRAINLOG = CAFFE_REF / "trainlog" / "train.log"
_TEST_LINE = re.compile(r"Test net output #\d+: (\S+) = ([-+.\deE]+)")


def first_test_pass(path):
    """The first test pass's outputs, read straight from the log text (not via parse_log)."""
    values = {}
    for line in open(path, errors="replace"):
        m = _TEST_LINE.search(line)
        if m:
            if m.group(1) in values:
                break
            values[m.group(1)] = float(m.group(2))
    return values


def assert_png(path):
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 200 and im.size[1] > 200


def test_plot_2017_log_and_caffe_trainlog(tmp_path):
    logs = [str(need(LOG_2017)), str(need(TRAINLOG))]
    out = tmp_path / "curves.png"
    series = plot_logs(logs, str(out), labels=["2017 lambda 0.025", "caffe lenet"])
    assert_png(out)
    assert [s.label for s in series] == ["2017 lambda 0.025", "caffe lenet"]
    # The 2017 log has all three quantities, Caffe's LeNet log no teacher-student loss.
    assert {q: c.column for q, c in series[0].curves.items()} == {
        "accuracy": "accuracy", "loss": "loss", "ts_loss": "ts_loss"}
    assert {q: c.column for q, c in series[1].curves.items()} == {
        "accuracy": "accuracy", "loss": "loss"}
    for path, s in zip(logs, series):
        _, test = parse_log(path)
        for curve in s.curves.values():
            np.testing.assert_array_equal(curve.iterations, [r["NumIters"] for r in test])
            np.testing.assert_array_equal(curve.values, [r[curve.column] for r in test])
        # The first point is the first test pass as printed in the log.
        printed = first_test_pass(path)
        for curve in s.curves.values():
            assert curve.iterations[0] == 0
            assert curve.values[0] == printed[curve.column]
    # The 2017 teacher-student loss starts near 7.34 (0.734 per class over 10 outputs).
    assert series[0].curves["ts_loss"].values[0] == pytest.approx(7.34393)


def test_normalized_view_divides_each_loss_by_its_maximum(tmp_path):
    log = str(need(LOG_2017))
    out = tmp_path / "norm.png"
    (s,) = plot_logs([log], str(out), normalize=True)
    assert_png(out)
    _, test = parse_log(log)
    for quantity in ("loss", "ts_loss"):
        raw = np.array([r[quantity] for r in test])
        curve = s.curves[quantity]
        assert curve.scale == raw.max()
        np.testing.assert_allclose(curve.values, raw / raw.max(), rtol=1e-12)
        assert curve.values.max() == 1.0
    # Accuracy is drawn as it is.
    np.testing.assert_array_equal(s.curves["accuracy"].values, [r["accuracy"] for r in test])
    # What the 2017 write-up says: the teacher-student loss stays near its maximum.
    assert s.curves["ts_loss"].values.min() > 0.99
    assert s.curves["loss"].values[-1] < 0.4


def test_explicit_columns_and_train_table(tmp_path):
    log = str(need(TRAINLOG))
    (s,) = log_series([log], y=["loss_aux"], train=True)
    train, _ = parse_log(log)
    assert list(s.curves) == ["loss_aux"]
    np.testing.assert_array_equal(s.curves["loss_aux"].values, [r["loss_aux"] for r in train])
    with pytest.raises(PlotError, match=r"no output named \['ts_loss'\].*'loss_aux'"):
        log_series([log], y=["ts_loss"])


def test_column_choice():
    fixed = ["NumIters", "Seconds", "LearningRate"]
    assert choose_columns(fixed + ["accuracy", "loss", "ts_loss"]) == {
        "accuracy": "accuracy", "loss": "loss", "ts_loss": "ts_loss"}
    assert choose_columns(fixed + ["acc_top1", "kd_loss", "hard_loss", "agreement"]) == {
        "accuracy": "acc_top1", "loss": "hard_loss", "ts_loss": "kd_loss",
        "agreement": "agreement"}
    assert choose_columns(fixed + ["loss", "loss_aux"]) == {"loss": "loss"}
    assert choose_columns(fixed + ["agreement_top5", "agreement_top1", "kl"]) == {
        "agreement": "agreement_top1"}
    assert choose_columns(fixed + ["kl"]) == {}


def test_log_without_outputs_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_text("I0101 00:00:00.000000  1 solver.cpp:1] Solving LeNet\nno iterations here\n")
    with pytest.raises(PlotError, match="no complete 'Test net output' rows.*nothing to plot"):
        log_series([str(empty)])
    with pytest.raises(PlotError, match="no such log file"):
        log_series([str(tmp_path / "missing.log")])


def test_cli(tmp_path, capsys):
    log = str(need(LOG_2017))
    out = tmp_path / "cli.png"
    assert cli_main(["plot", log, log, "--label", "a", "--label", "b", "-o", str(out)]) == 0
    assert_png(out)
    assert "wrote" in capsys.readouterr().out
    empty = tmp_path / "empty.log"
    empty.write_text("nothing\n")
    assert cli_main(["plot", str(empty), "-o", str(tmp_path / "x.png")]) == 1
    assert "nothing to plot" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_our_rerun_overlays_caffes_log(tmp_path, trainlog_run):
    """`tscaffe train` on Caffe's trainlog fixture, then one figure with Caffe's log: the
    curves read from our log equal those of Caffe's (our solver reproduces its numbers)."""
    ours = tmp_path / "ours.log"
    ours.write_text(trainlog_run[2])
    out = tmp_path / "overlay.png"
    mine, caffe = plot_logs([str(ours), str(TRAINLOG)], str(out), labels=["ours", "caffe"])
    assert_png(out)
    assert set(mine.curves) == set(caffe.curves) == {"accuracy", "loss"}
    for q in mine.curves:
        np.testing.assert_array_equal(mine.curves[q].iterations, caffe.curves[q].iterations)
        np.testing.assert_allclose(mine.curves[q].values, caffe.curves[q].values, rtol=1e-4)
