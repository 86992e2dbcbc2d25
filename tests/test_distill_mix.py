"""Teacher-labelled mixes (solver.distill.mix, ``--mix K``): the mixed records against a
plain pixel loop, the records' order and labels, the teacher's labelling before training,
and a real run whose TRAIN layer only ever reads records the teacher labelled."""
import numpy as np
import pytest

from caffe_compat.data.convert import write_datum_lmdb
from caffe_compat.data.lmdb_source import LMDBSource, read_record
from caffe_compat.errors import CaffeError
from conftest import DATASETS, TEACHERS, need
from solver.distill.mix import mix_images, mix_plan, mixed_lmdb
from solver.distill.options import DistillOptions


def _images(n=12, c=1, h=5, w=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(n, c, h, w)).astype(np.uint8), np.arange(n) % 10


def _mix_loop(a, b, lam):
    """A plain loop: round(lam a + (1 - lam) b) per pixel, Python's round (half to even)."""
    out = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        out[idx] = round(lam * float(a[idx]) + (1.0 - lam) * float(b[idx]))
    return out


@pytest.mark.parametrize("shape", [(1, 5, 5), (3, 4, 6), (1, 28, 28)])
def test_mix_images_matches_a_pixel_loop(shape):
    x, _ = _images(6, *shape)
    partners = np.array([3, 0, 5, 1, 2, 4])
    lam = np.array([0.0, 1.0, 0.5, 0.25, 0.9, 0.37])
    got = mix_images(x, x[partners], lam)
    for i in range(6):
        np.testing.assert_array_equal(got[i], _mix_loop(x[i], x[partners[i]], lam[i]))
    assert (got[0] == x[3]).all() and (got[1] == x[1]).all()


def test_mix_plan_pairs_each_record_with_another_and_is_seeded():
    partners, lam, order = mix_plan(50, 3, seed=4)
    assert partners.shape == lam.shape == (3, 50)
    assert not (partners == np.arange(50)).any()          # never the record itself
    assert partners.min() >= 0 and partners.max() < 50
    assert ((lam >= 0) & (lam <= 1)).all() and 0.3 < lam.mean() < 0.7
    assert sorted(order) == list(range(200))
    again = mix_plan(50, 3, seed=4)
    assert all(np.array_equal(u, v) for u, v in zip((partners, lam, order), again))
    assert not np.array_equal(mix_plan(50, 3, seed=5)[2], order)


@pytest.mark.parametrize("chunk", [256, 5])   # one chunk; chunks cut mid-order
def test_mixed_records_are_the_originals_and_their_mixes(tmp_path, monkeypatch, chunk):
    import solver.distill.mix as mix
    monkeypatch.setattr(mix, "CHUNK", chunk)
    x, y = _images(12)
    src = str(tmp_path / "train_lmdb")
    write_datum_lmdb(x, y, src)
    db, count = mixed_lmdb(src, str(tmp_path / "out"), 2, seed=3)
    rows = [read_record(k, v) for k, v in LMDBSource(db).items()]
    assert count == len(rows) == 36
    partners, lam, order = mix_plan(12, 2, seed=3)
    for rank, j in enumerate(order):                      # key order = the plan's order
        c, i = divmod(int(j), 12)
        image, label = rows[rank]
        if c == 0:
            assert (image == x[i]).all() and label == y[i]
        else:
            p, w = partners[c - 1, i], lam[c - 1, i]
            np.testing.assert_array_equal(image, _mix_loop(x[i], x[p], w))
            assert label == (y[i] if w >= 0.5 else y[p])  # the larger part's label
    # The originals are spread over the pass, not all first.
    first = [int(j) < 12 for j in order[:12]]
    assert not all(first)
    mtime = (tmp_path / "out").stat().st_mtime_ns
    assert mixed_lmdb(src, str(tmp_path / "out"), 2, seed=3) == (db, 36)   # reused
    assert mtime == (tmp_path / "out").stat().st_mtime_ns
    with pytest.raises(CaffeError, match="--mix must be >= 1"):
        mixed_lmdb(src, str(tmp_path / "out"), 0, seed=3)


def test_mix_option_is_checked():
    with pytest.raises(CaffeError, match="--mix must be >= 0"):
        DistillOptions(["t.onnx"], mix=-1).resolved()
    with pytest.raises(CaffeError, match="no label to train on"):
        DistillOptions(["t.onnx"], mix=1, soft_weight=0.5).resolved()
    assert DistillOptions(["t.onnx"], mix=1, labels=False, soft_weight=0.5).resolved().mix == 1
    assert DistillOptions(["t.onnx"]).resolved().mix == 0


def test_a_run_with_mixes_never_runs_the_teacher_while_training(tmp_path, monkeypatch):
    """--mix 1 on 640 MNIST images, 64 held out: 1,152 records, every one labelled once,
    before training; a second run in the same folder never runs the teacher at all."""
    from solver.distill import distill
    from solver.teacher import ensemble as ensemble_mod

    teacher = need(TEACHERS / "advertorch_lenet5_clean.onnx")
    data = need(DATASETS / "mnist")
    calls = []
    real = ensemble_mod.TeacherEnsemble.logits

    def counting(self, batch):
        calls.append(len(batch))
        return real(self, batch)

    monkeypatch.setattr(ensemble_mod.TeacherEnsemble, "logits", counting)
    rep = distill([str(teacher)], "lenet", str(data), str(tmp_path / "run"), labels=False,
                  iterations=40, subset=(640, 200), mix=1, heldout=64, name="m")
    assert rep["mix"] == 1 and rep["train_samples"] == 2 * (640 - 64)
    log = open(rep["files"]["log"]).read()
    assert "Mixes: the student trains on its 576 images and 1 mix(es) of each" in log
    # Each distinct sample runs through the teacher at most once: the 1,152 training
    # records (at setup: the probe's, then the fill's), the 64 held-out and 200 test images.
    assert sum(calls) <= 1152 + 64 + 200, calls
    # A second run in the same folder reuses the records and the cached logits of all.
    calls.clear()
    rep2 = distill([str(teacher)], "lenet", str(data), str(tmp_path / "run"), labels=False,
                   iterations=40, subset=(640, 200), mix=1, heldout=64, name="m")
    assert rep2["train_samples"] == 1152
    assert "the teacher labelled 0 of the 1,152 records now" in open(rep2["files"]["log"]).read()
    assert calls == []


def test_a_broken_or_stale_marker_remakes_the_copy(tmp_path):
    """A marker cut short (not JSON) or made with other settings is not trusted: the copy is
    made again and the marker rewritten."""
    x, y = _images(8)
    src = str(tmp_path / "train_lmdb")
    write_datum_lmdb(x, y, src)
    db, count = mixed_lmdb(src, str(tmp_path / "out"), 1, seed=3)
    marker = tmp_path / "out" / "data"
    (path,) = list(marker.glob("*/mixed.json"))
    path.write_text('{"source": ')
    assert mixed_lmdb(src, str(tmp_path / "out"), 1, seed=3) == (db, 16)
    assert '"records": 16' in path.read_text()
    saved = path.read_text().replace('"alpha": 1.0', '"alpha": 0.5')
    path.write_text(saved)
    assert mixed_lmdb(src, str(tmp_path / "out"), 1, seed=3) == (db, 16)
    assert '"alpha": 1.0' in path.read_text()


def test_images_of_two_sizes_or_none_are_refused_clearly(tmp_path):
    from caffe_compat.data.convert import LMDBWriter
    from caffe_compat.proto import caffe_pb2

    src = str(tmp_path / "mixed_sizes")
    with LMDBWriter(src) as out:
        for i, (h, w) in enumerate([(5, 5), (5, 5), (6, 5)]):
            d = caffe_pb2.Datum(channels=1, height=h, width=w, label=i)
            d.data = bytes(h * w)
            out.put(f"{i:03d}", d.SerializeToString())
    with pytest.raises(CaffeError, match=r"--mix needs images of one size, found \(1, 5, 5\) "
                                         r"and \(1, 6, 5\) \(record 2\)"):
        mixed_lmdb(src, str(tmp_path / "out"), 1, seed=0)
    empty = str(tmp_path / "empty")
    with LMDBWriter(empty):
        pass
    with pytest.raises(CaffeError, match="holds no records"):   # the reader's own refusal
        mixed_lmdb(empty, str(tmp_path / "out2"), 1, seed=0)
