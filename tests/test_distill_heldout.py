"""The held-out slice that decides a distill run's stop (solver.distill.heldout): drawn
from the training records with a seed, never trained on, disjoint from the fit records;
the test split is scored once, after training. Checked against the raw MNIST arrays and
records written here, not against the splitting code."""
import json

import numpy as np
import pytest

from caffe_compat.data.convert import write_datum_lmdb
from caffe_compat.data.lmdb_source import LMDBSource, read_record
from caffe_compat.errors import CaffeError
from conftest import DATASETS, TEACHERS, need
from prototxt.io import read_net, read_solver
from solver.distill.heldout import heldout_count, split_training


@pytest.mark.parametrize("n, count", [(60000, 5000), (50000, 4166), (1200000, 5000),
                                      (6400, 533), (1000, 200), (100, 20)])
def test_heldout_count(n, count):
    # 1/12, at most 5,000, at least min(500, n/5)
    assert heldout_count(n) == count


def test_heldout_count_user_value_is_checked():
    assert heldout_count(1000, 10) == 10
    for bad in (0, 1000, 5000):
        with pytest.raises(CaffeError, match="--heldout must be between 1 and 999"):
            heldout_count(1000, bad)


def _images(n):
    """n distinct 1x2x2 images: the record index in its first two bytes."""
    x = np.zeros((n, 1, 2, 2), np.uint8)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    return x, (np.arange(n) % 10).astype(np.int32)


def _indices(db):
    return [int(read_record(k, v)[0][0, 0, 0]) + 256 * int(read_record(k, v)[0][0, 0, 1])
            for k, v in LMDBSource(db).items()]


def test_split_is_disjoint_seeded_and_reused(tmp_path):
    x, y = _images(300)
    src = str(tmp_path / "train_lmdb")
    write_datum_lmdb(x, y, src)
    a = split_training(src, 300, str(tmp_path / "a"), 25, seed=3)
    fit, held = _indices(a.fit_lmdb), _indices(a.heldout_lmdb)
    assert (a.num_fit, a.num_heldout) == (275, 25) and len(fit) == 275 and len(held) == 25
    assert not set(fit) & set(held) and sorted(fit + held) == list(range(300))
    assert held == sorted(a.indices.tolist())          # the indices reported are the slice's
    assert fit == sorted(fit)                          # key order kept
    assert held != list(range(25)) and held != list(range(275, 300))   # drawn, not a block
    b = split_training(src, 300, str(tmp_path / "b"), 25, seed=3)
    assert _indices(b.heldout_lmdb) == held            # the same seed, the same slice
    c = split_training(src, 300, str(tmp_path / "a"), 25, seed=4)
    assert _indices(c.heldout_lmdb) != held
    marker = tmp_path / "a" / "data"
    made = sorted(p.name for p in marker.iterdir())
    assert len(made) == 2                              # one folder per (count, seed)
    mtime = (tmp_path / "a" / "data" / made[0] / "fit_lmdb" / "data.mdb").stat().st_mtime_ns
    split_training(src, 300, str(tmp_path / "a"), 25, seed=3)   # reused, not rewritten
    assert (tmp_path / "a" / "data" / made[0] / "fit_lmdb" / "data.mdb").stat().st_mtime_ns \
        == mtime
    record = json.loads((tmp_path / "a" / "data" / made[0] / "split.json").read_text())
    assert record["count"] == 25 and record["seed"] in (3, 4)


def _run(tmp_path, **args):
    from solver.distill import distill

    teacher = need(TEACHERS / "advertorch_lenet5_clean.onnx")
    data = need(DATASETS / "mnist")
    return distill([str(teacher)], "lenet", str(data), str(tmp_path), labels=False,
                   subset=(1200, 200), iterations=40, seed=7, **args), data


def test_distill_trains_on_the_fit_records_and_stops_on_the_heldout_ones(tmp_path):
    """1,200 MNIST training images: 240 held out (a fifth of a small set), drawn with the
    run's seed; the TRAIN data layer reads the other 960, the solver's test net the 240
    (stage heldout), the net in plain TEST phase the test split, which the log scores once."""
    from caffe_compat.data.datasets import load_mnist_dir

    rep, data = _run(tmp_path)
    assert rep["heldout_samples"] == 240 and rep["train_samples"] == 960
    train_x = load_mnist_dir(str(data))[0][:1200]
    ts = read_net(rep["files"]["ts_prototxt"])
    sources = {}
    for layer in ts.layer:
        if layer.type == "Data":
            rule = layer.include[0]
            key = (rule.phase, tuple(rule.stage), tuple(rule.not_stage))
            sources[key] = layer.data_param.source
    assert len(sources) == 3
    (train_src,) = [s for (phase, _, _), s in sources.items() if phase == 0]
    (held_src,) = [s for (_, st, _), s in sources.items() if st == ("heldout",)]
    (test_src,) = [s for (_, _, nst), s in sources.items() if nst == ("heldout",)]

    def rows(db):
        return {read_record(k, v)[0].tobytes() for k, v in LMDBSource(db).items()}

    by_bytes = {img.tobytes(): i for i, img in enumerate(train_x)}
    fit_idx = sorted(by_bytes[b] for b in rows(train_src))
    held_idx = sorted(by_bytes[b] for b in rows(held_src))
    assert len(fit_idx) == 960 and len(held_idx) == 240
    assert not set(fit_idx) & set(held_idx) and sorted(fit_idx + held_idx) == list(range(1200))
    expected = np.sort(np.random.RandomState(7).choice(1200, 240, replace=False))
    assert held_idx == expected.tolist()
    assert "test_lmdb" in test_src and test_src not in (train_src, held_src)
    solver = read_solver(rep["files"]["solver"])
    assert list(solver.test_state[0].stage) == ["heldout"] and list(solver.test_iter) == [3]
    log = open(rep["files"]["log"]).read()
    assert "Held out 240 of 1,200 training images (seed 7" in log
    finals = [l for l in log.splitlines() if "Final test on the test split (200 images)" in l]
    assert any(f"agreement_top1 = {rep['agreement']:.6g}" in l for l in finals), finals
    budget = rep["budget"]
    assert budget["passes"] and budget["passes"][-1][0] == rep["iterations_run"]
    best = max(v for _, v in budget["passes"])
    assert budget["best_agreement"] == pytest.approx(best)
    restored = budget["restored_iteration"]
    if budget["best_iteration"] != rep["iterations_run"]:
        assert restored == budget["best_iteration"] and "Restored the weights of iteration" in log
    else:
        assert restored is None


def test_patience_zero_trains_on_everything_and_keeps_the_last_weights(tmp_path):
    rep, _ = _run(tmp_path, patience=0)
    assert rep["heldout_samples"] == 0 and rep["train_samples"] == 1200
    assert rep["iterations_run"] == 40 and rep["budget"]["restored_iteration"] is None
    ts = read_net(rep["files"]["ts_prototxt"])
    assert not any(list(r.stage) or list(r.not_stage) for l in ts.layer for r in l.include)


def test_a_heldout_plateau_decays_the_rate_and_the_log_shows_it(tmp_path):
    """A rate so small (1e-6) that the held-out agreement cannot move: with patience 1 the
    pass at 16 ties the best one (8), so the lr decays there (8's weights back, base_lr
    1e-6 -> 1e-7); the pass at 24 ties again with no decay left, so the run stops at 24
    and the student scored is 8's. The logged rates follow the warm-up + inv policy of
    Caffe's formula, times 0.1 from iteration 16 on."""
    rep, _ = _run(tmp_path, patience=1, lr_decays=1, base_lr=1e-6)
    log = open(rep["files"]["log"]).read()
    budget = rep["budget"]
    assert [p[0] for p in budget["passes"]] == [8, 16, 24]
    assert budget["lr_decays"] == [{"iteration": 16, "restored": 8,    # float32 rates
                                    "lr_before": pytest.approx(1e-6, rel=1e-6),
                                    "lr_after": pytest.approx(1e-7, rel=1e-6)}]
    assert budget["stopped_at"] == 24 and rep["iterations_run"] == 24
    assert budget["restored_iteration"] == 8
    assert "lr decay 1 of 1 at iteration 16: weights of iteration 8 restored" in log
    assert rep["final_base_lr"] == pytest.approx(1e-7, rel=1e-6)
    import re

    rates = {int(m.group(1)): float(m.group(2))
             for m in re.finditer(r"Iteration (\d+), lr = ([0-9.e+-]+)", log)}
    assert set(rates) >= {0, 14, 16, 22}
    for it, lr in rates.items():
        base = 1e-6 if it < 16 else 1e-7
        want = base * (1 + 1e-4 * it) ** -0.75 * min(1.0, (it + 1) / 4)
        assert lr == pytest.approx(want, rel=1e-4), it
