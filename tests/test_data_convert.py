"""Our converters, run on the inputs of Caffe's fixtures, write what Caffe's tools wrote."""
import gzip
import shutil

import numpy as np
import pytest

from caffe_compat.data import convert
from caffe_compat.data.lmdb_source import LMDBSource, read_record
from caffe_compat.errors import CaffeError, FormatError
from caffe_compat.proto import caffe_pb2
from conftest import CAFFE_REF, need
from data_helpers import lmdb_items

FORMATS = CAFFE_REF / "formats"
MNIST = FORMATS / "mnist_lmdb"
IMAGESET = FORMATS / "imageset_lmdb"
CIFAR = FORMATS / "cifar_bin"


def fields(value):
    d = caffe_pb2.Datum.FromString(value)
    return {f.name: v for f, v in d.ListFields()}


def test_convert_mnist_is_byte_identical(tmp_path):
    need(MNIST)
    n = convert.convert_mnist(MNIST / "images-idx3-ubyte", MNIST / "labels-idx1-ubyte",
                              tmp_path / "db")
    assert n == 600
    assert lmdb_items(tmp_path / "db") == lmdb_items(MNIST / "lmdb")


def test_convert_mnist_gzipped_input(tmp_path):
    need(MNIST)
    for name in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        with open(MNIST / name, "rb") as src, gzip.open(tmp_path / (name + ".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    convert.convert_mnist(tmp_path / "images-idx3-ubyte.gz", tmp_path / "labels-idx1-ubyte.gz",
                          tmp_path / "db")
    assert lmdb_items(tmp_path / "db") == lmdb_items(MNIST / "lmdb")


def test_convert_cifar10_datum_bytes(tmp_path):
    exp = np.load(need(CIFAR / "expected.npz"))
    counts = convert.convert_cifar10(CIFAR / "input", tmp_path)
    for split in ("train", "test"):
        items = lmdb_items(tmp_path / f"cifar10_{split}_lmdb")
        assert counts[split] == len(exp[f"{split}/labels"]) == len(items)
        assert [int(k) for k, _ in items] == exp[f"{split}/key_int"].tolist()
        assert [len(k) for k, _ in items] == [5] * len(items)
        for (_, value), want in zip(items, exp[f"{split}/datum_bytes"]):
            assert value == want.tobytes()


def test_convert_imageset_encoded_original_is_identical(tmp_path):
    need(IMAGESET)
    n, skipped = convert.convert_imageset(str(IMAGESET / "images") + "/", IMAGESET / "list.txt",
                                          tmp_path / "db", encoded=True)
    assert (n, skipped) == (30, [])
    assert lmdb_items(tmp_path / "db") == lmdb_items(IMAGESET / "lmdb_encoded_original")


@pytest.mark.parametrize("db,encoded", [("raw_resized", False), ("encoded_resized", True)])
def test_convert_imageset_resized(tmp_path, db, encoded):
    exp = np.load(need(IMAGESET / "expected.npz"))
    convert.convert_imageset(str(IMAGESET / "images") + "/", IMAGESET / "list.txt",
                             tmp_path / "db", resize_height=7, resize_width=9, encoded=encoded)
    ours, theirs = lmdb_items(tmp_path / "db"), lmdb_items(IMAGESET / f"lmdb_{db}")
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    for (_, a), (_, b) in zip(ours, theirs):
        fa, fb = fields(a), fields(b)
        assert sorted(fa) == sorted(fb)  # the same Datum fields are present
        for name in ("channels", "height", "width", "label", "encoded"):
            assert fa.get(name) == fb.get(name)
    # Our resize is OpenCV's INTER_LINEAR bit for bit: the pixels Caffe stored, exactly.
    got = np.stack([read_record(k, v)[0] for k, v in ours])
    np.testing.assert_array_equal(got, exp[f"{db}/decoded_bgr"])
    if not encoded:  # raw records: the very bytes real Caffe wrote
        assert ours == theirs


def test_convert_imageset_gray_and_shuffle(tmp_path):
    need(IMAGESET)
    from caffe_compat import rng

    rng.set_seed(3)
    convert.convert_imageset(str(IMAGESET / "images") + "/", IMAGESET / "list.txt",
                             tmp_path / "db", gray=True, shuffle=True)
    items = lmdb_items(tmp_path / "db")
    names = sorted(k.decode().split("_", 1)[1] for k, _ in items)
    assert names == sorted(line.split()[0] for line in (IMAGESET / "list.txt").read_text().split("\n") if line)
    assert [k.decode().split("_", 1)[1] for k, _ in items] != names  # shuffled
    assert all(fields(v)["channels"] == 1 for _, v in items)


def test_compute_mean_equals_caffe(tmp_path):
    need(MNIST)
    mean = convert.compute_mean(MNIST / "lmdb")
    np.testing.assert_array_equal(mean, np.load(MNIST / "expected.npz")["mean"])
    convert.write_mean_binaryproto(tmp_path / "mean.binaryproto", mean)
    assert (tmp_path / "mean.binaryproto").read_bytes() == (MNIST / "mean.binaryproto").read_bytes()


def test_cli_convert_and_compute_mean(tmp_path, capsys):
    need(MNIST)
    from solver.cli import main

    assert main(["convert", "mnist", str(MNIST / "images-idx3-ubyte"),
                 str(MNIST / "labels-idx1-ubyte"), str(tmp_path / "db")]) == 0
    assert main(["compute-mean", str(tmp_path / "db"), str(tmp_path / "m.binaryproto")]) == 0
    assert (tmp_path / "m.binaryproto").read_bytes() == (MNIST / "mean.binaryproto").read_bytes()
    # An existing output database is refused, without a traceback.
    assert main(["convert", "mnist", str(MNIST / "images-idx3-ubyte"),
                 str(MNIST / "labels-idx1-ubyte"), str(tmp_path / "db")]) == 1
    assert "already exists" in capsys.readouterr().err


def test_failed_conversion_leaves_no_database(tmp_path):
    need(MNIST)
    (tmp_path / "bad-labels").write_bytes(b"\x00\x00\x08\x03" + bytes(8))  # image magic
    with pytest.raises(FormatError, match="bad magic number 2051"):
        convert.convert_mnist(MNIST / "images-idx3-ubyte", tmp_path / "bad-labels",
                              tmp_path / "db")
    lst = tmp_path / "list.txt"
    lst.write_text("a.png 1\n")
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    (tmp_path / "img").mkdir()

    class Boom(Exception):
        pass

    def fail(*a, **k):
        raise Boom

    orig = convert.read_image
    convert.read_image = fail
    try:
        with pytest.raises(Boom):
            convert.convert_imageset(str(tmp_path) + "/", lst, tmp_path / "db2")
    finally:
        convert.read_image = orig
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "bad-labels", "img", "list.txt"]


def test_map_size_grows(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "COMMIT_EVERY", 50)
    with convert.LMDBWriter(tmp_path / "db", map_size=1 << 16) as db:
        for i in range(400):
            db.put(b"%05d" % i, bytes(1000))
    assert len(LMDBSource(tmp_path / "db")) == 400


def test_empty_list_file_is_clear(tmp_path):
    (tmp_path / "list.txt").write_text("\n\n")
    with pytest.raises(FormatError, match="is empty"):
        convert.convert_imageset(str(tmp_path) + "/", tmp_path / "list.txt", tmp_path / "db")
    with pytest.raises(CaffeError, match="list file not found"):
        convert.convert_imageset(str(tmp_path) + "/", tmp_path / "nope.txt", tmp_path / "db")
