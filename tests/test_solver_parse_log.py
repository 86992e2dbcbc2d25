"""parse-log on Caffe's logs: the original experiment's and the reference fixtures'."""
import numpy as np
import pytest

from conftest import CAFFE_REF, ORIGINAL, need


def original_logs():
    if not ORIGINAL.exists():
        return []
    return sorted(ORIGINAL.rglob("output*.txt"))


@pytest.mark.parametrize("path", original_logs(), ids=lambda p: p.name)
def test_original_logs_parse(path, tmp_path):
    from solver.parse_log import parse_log, save_csv_files

    text = path.read_text(errors="replace")
    train, test = parse_log(str(path))
    # One test row per test pass; every pass is complete in these logs.
    assert len(test) == text.count(", Testing net (#0)") > 0
    assert list(test[0])[:3] == ["NumIters", "Seconds", "LearningRate"]
    assert "accuracy" in test[0] and "loss" in test[0]
    assert all(len(r) == len(test[0]) for r in test)
    assert [r["NumIters"] for r in test] == sorted(r["NumIters"] for r in test)
    displays = text.count("Train net output #0")
    # Caffe's script drops the last, never-completed row only when there is a single one.
    assert len(train) == (displays if displays > 1 else 0)
    written = save_csv_files(str(path), str(tmp_path), train, test)
    assert len(written) == (2 if train else 1)


def test_original_log_values():
    from solver.parse_log import parse_log

    path = need(ORIGINAL / "cifar10/output/output-1.txt")
    train, test = parse_log(str(path))
    first = test[0]
    assert (first["NumIters"], first["accuracy"], first["loss"], first["ts_loss"]) == (0, 0.1054, 2.30259, 7.34397)
    assert first["LearningRate"] == test[1]["LearningRate"] == 0.001  # copied from row 2
    assert abs(first["Seconds"] - 0.823589) < 1e-9  # from the "Solving" line's time
    assert (train[1]["NumIters"], train[1]["loss"], train[1]["ts_loss"]) == (10, 2.30193, 7.34388)


@pytest.mark.parametrize("variant", ["nesterov", "sgd_clip"])
def test_pycaffe_solver_logs_parse(variant):
    """Logs of solver.step() runs have no "Solving" line; rows still come out, and each
    train row carries the rate logged before it (the previous iteration's)."""
    from solver.parse_log import parse_log

    folder = need(CAFFE_REF / "solvers" / variant)
    lr = np.load(folder / "trajectory.npz")["lr"]
    train, test = parse_log(str(folder / "solver.log"))
    assert test == []
    assert [r["NumIters"] for r in train] == list(range(len(lr)))
    expected = np.concatenate([[lr[0]], lr[:-1]])
    np.testing.assert_allclose([r["LearningRate"] for r in train], expected, rtol=1e-5)
