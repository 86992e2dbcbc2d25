"""Teacher-labelled shifts (solver.distill.shift): the padded fit records, the shifted
copies the teacher labels once, and the TRAIN data layer's random crops of them - checked
against plain pixel loops and against Caffe's Data layer itself (every crop it draws must be
a copy the teacher already labelled: training never runs the teacher)."""
import numpy as np
import pytest

from caffe_compat.data.convert import write_datum_lmdb
from caffe_compat.data.lmdb_source import LMDBSource, read_record
from caffe_compat.errors import CaffeError
from solver.distill.shift import fill_teacher_cache, padded_lmdb, shifted_copies
from solver.teacher.cache import CachedTeacher, LogitCache, sample_keys


def _images(n=12, h=5, w=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(1, 256, size=(n, 1, h, w)).astype(np.uint8), np.arange(n) % 10


def _moved(image, dy, dx):
    """A plain loop: ``image`` (C, H, W) moved down by dy and right by dx, zeros coming in."""
    c, h, w = image.shape
    out = np.zeros_like(image)
    for k in range(c):
        for i in range(h):
            for j in range(w):
                if 0 <= i - dy < h and 0 <= j - dx < w:
                    out[k, i, j] = image[k, i - dy, j - dx]
    return out


def test_padded_records_keep_keys_labels_and_the_image_in_the_middle(tmp_path):
    x, y = _images()
    src = str(tmp_path / "train_lmdb")
    write_datum_lmdb(x, y, src)
    db = padded_lmdb(src, str(tmp_path / "out"), 2)
    rows = [(k, read_record(k, v)) for k, v in LMDBSource(db).items()]
    assert [k for k, _ in rows] == [k for k, _ in LMDBSource(src).items()]
    for i, (_, (image, label)) in enumerate(rows):
        assert image.shape == (1, 9, 9) and label == y[i]
        assert (image[:, 2:7, 2:7] == x[i]).all() and image.sum() == x[i].astype(int).sum()
    mtime = (tmp_path / "out").stat().st_mtime_ns
    assert padded_lmdb(src, str(tmp_path / "out"), 2) == db   # reused (marker matches)
    with pytest.raises(CaffeError, match="--shift must be >= 1"):
        padded_lmdb(src, str(tmp_path / "out"), 0)
    assert mtime == (tmp_path / "out").stat().st_mtime_ns


def test_shifted_copies_are_the_images_moved_by_every_offset():
    x, _ = _images(3)
    copies = dict(shifted_copies(x, 1, {"scale": 0.5}))
    assert sorted(copies) == [(dy, dx) for dy in range(3) for dx in range(3)]
    for (dy, dx), blob in copies.items():
        assert blob.dtype == np.float32 and blob.shape == x.shape
        # the crop at offset (dy, dx) of the padded image is the image moved by (1-dy, 1-dx)
        want = np.stack([_moved(im, 1 - dy, 1 - dx) for im in x]).astype(np.float32) * 0.5
        assert np.array_equal(blob, want), (dy, dx)


class CountingEnsemble:
    """A stand-in teacher: logits = the sum of each sample's pixels per class offset, and
    a count of the samples it was run on."""

    def __init__(self):
        self.runs = 0

    def logits(self, data):
        self.runs += len(data)
        s = data.reshape(len(data), -1).sum(1, keepdims=True)
        return (s + np.arange(10)).astype(np.float32)


def test_training_crops_are_all_labelled_before_training(tmp_path):
    """The real Data layer in TRAIN phase, crop_size 5 from the records padded by 1, with
    the student's scale: every sample it yields over 10 batches is a key the fill put in the
    cache, so the teacher is never run during training; a second fill runs it on nothing."""
    from caffe_compat.net import Net

    x, y = _images(12)
    src = str(tmp_path / "train_lmdb")
    write_datum_lmdb(x, y, src)
    db = padded_lmdb(src, str(tmp_path / "out"), 1)
    teacher = CachedTeacher(CountingEnsemble(), LogitCache(None))
    seen, runs = fill_teacher_cache(teacher, src, 1, {"scale": 0.00390625}, chunk=5)
    assert seen == 12 * 9 and teacher.ensemble.runs == runs <= 12 * 9
    net_path = tmp_path / "net.prototxt"
    net_path.write_text(f'''name: "crops"
layer {{ name: "data" type: "Data" top: "data" top: "label" include {{ phase: TRAIN }}
  transform_param {{ scale: 0.00390625 crop_size: 5 }}
  data_param {{ source: "{db}" batch_size: 7 backend: LMDB }} }}
''')
    from caffe_compat.proto import caffe_pb2

    net = Net(str(net_path), phase=caffe_pb2.TRAIN)
    offsets = set()
    for _ in range(10):
        net.forward()
        blob = net.blobs["data"].data
        assert all(f is not None for f in teacher.cache.lookup(sample_keys(blob)))
        before = teacher.ensemble.runs
        teacher.logits(blob)
        assert teacher.ensemble.runs == before
        for sample in blob:
            for (dy, dx), copies in shifted_copies(x, 1, {"scale": 0.00390625}):
                if any(np.array_equal(sample, c) for c in copies):
                    offsets.add((dy, dx))
    assert len(offsets) > 1                      # the crops really move
    assert fill_teacher_cache(teacher, src, 1, {"scale": 0.00390625}) == (108, 0)
