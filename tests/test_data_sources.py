"""Dataset readers (IDX, CIFAR-10, the embedded MNIST subset), MemoryData and ImageData."""
import gzip
import struct

import numpy as np
import pytest

from caffe_compat.data import datasets
from caffe_compat.errors import CaffeError, FormatError
from conftest import CAFFE_REF, DATASETS, need
from data_helpers import TRAIN, make_layer, run_data_layer

MNIST = CAFFE_REF / "formats" / "mnist_lmdb"
IMAGESET = CAFFE_REF / "formats" / "imageset_lmdb"
CIFAR = CAFFE_REF / "formats" / "cifar_bin"


def test_idx_reader_matches_caffe_fixture(tmp_path):
    exp = np.load(need(MNIST / "expected.npz"))
    images, labels = datasets.read_idx_pair(MNIST / "images-idx3-ubyte",
                                            MNIST / "labels-idx1-ubyte")
    assert images.shape == (600, 1, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:20], exp["images"])
    np.testing.assert_array_equal(labels, exp["all_labels"])
    gz = tmp_path / "x.gz"  # gzip is detected from the content, not the name
    gz.write_bytes(gzip.compress((MNIST / "labels-idx1-ubyte").read_bytes()))
    np.testing.assert_array_equal(datasets.read_idx_labels(gz), exp["all_labels"])


def test_idx_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(struct.pack(">iiii", 2049, 1, 28, 28) + bytes(784))
    with pytest.raises(FormatError, match="bad magic number 2049 for an IDX image file"):
        datasets.read_idx_images(bad)
    short = tmp_path / "short"
    short.write_bytes(struct.pack(">iiii", 2051, 5, 28, 28) + bytes(784))
    with pytest.raises(FormatError, match="header says 5 images"):
        datasets.read_idx_images(short)
    with pytest.raises(FormatError, match="file not found"):
        datasets.read_idx_labels(tmp_path / "none")


def test_cifar_reader_matches_fixture():
    exp = np.load(need(CIFAR / "expected.npz"))
    tr_x, tr_y, te_x, te_y = datasets.load_cifar10_dir(CIFAR / "input")
    np.testing.assert_array_equal(tr_x, exp["train/data_chw"])
    np.testing.assert_array_equal(tr_y, exp["train/labels"])
    np.testing.assert_array_equal(te_x, exp["test/data_chw"])
    np.testing.assert_array_equal(te_y, exp["test/labels"])


def test_cifar_bad_size(tmp_path):
    (tmp_path / "test_batch.bin").write_bytes(bytes(3000))
    with pytest.raises(FormatError, match="not a whole number of CIFAR-10 records"):
        datasets.read_cifar10_bin(tmp_path / "test_batch.bin")


def test_full_mnist_dir():
    folder = need(DATASETS / "mnist")
    tr_x, tr_y, te_x, te_y = datasets.load_mnist_dir(folder)
    assert tr_x.shape == (60000, 1, 28, 28) and te_x.shape == (10000, 1, 28, 28)
    assert np.bincount(te_y).tolist()[:2] == [980, 1135]  # the published t10k class counts


def test_default_mnist_is_real_and_split_as_documented():
    tr_x, tr_y, te_x, te_y = datasets.load_default_mnist()
    assert tr_x.shape == (4000, 1, 28, 28) and te_x.shape == (1000, 1, 28, 28)
    assert tr_x.dtype == np.uint8 and tr_y.dtype == np.int32
    assert np.bincount(tr_y).tolist() == [400] * 10 and np.bincount(te_y).tolist() == [100] * 10
    assert len(set(map(bytes, tr_x.reshape(4000, -1))) & set(map(bytes, te_x.reshape(1000, -1)))) == 0
    assert len(set(tr_y[:20])) > 5  # shuffled: batches read in order mix classes
    # Where the full MNIST files are at hand: every digit is a real MNIST training digit.
    if (DATASETS / "mnist").exists():
        full_x, full_y, _, _ = datasets.load_mnist_dir(DATASETS / "mnist")
        index = {bytes(r): y for r, y in zip(full_x[:6000].reshape(6000, -1), full_y[:6000])}
        assert all(index.get(bytes(r)) == y for r, y in zip(te_x.reshape(1000, -1), te_y))
    again = datasets.load_default_mnist()
    np.testing.assert_array_equal(again[0], tr_x)


def memory_layer(batch=4, c=1, h=2, w=3):
    return make_layer(f'name: "m" type: "MemoryData" top: "data" top: "label" memory_data_param '
                      f'{{ batch_size: {batch} channels: {c} height: {h} width: {w} }}', TRAIN)


def test_memory_data_batches_and_wraps():
    from caffe_compat.blob import Blob

    layer = memory_layer()
    top = [Blob(), Blob()]
    layer.setup([], top)
    assert top[0].shape == (4, 1, 2, 3) and top[1].shape == (4,)
    data = np.random.default_rng(0).normal(size=(8, 1, 2, 3)).astype(np.float32)
    labels = np.arange(8, dtype=np.float32)
    layer.set_input_arrays(data, labels)
    seen = []
    for _ in range(3):
        layer.reshape([], top)
        layer.forward([], top)
        seen.append((top[0].data.copy(), top[1].data.copy()))
    np.testing.assert_array_equal(seen[0][0], data[:4])
    np.testing.assert_array_equal(seen[1][1], labels[4:])
    np.testing.assert_array_equal(seen[2][0], data[:4])


def test_memory_data_errors():
    from caffe_compat.blob import Blob

    layer = memory_layer()
    top = [Blob(), Blob()]
    layer.setup([], top)
    with pytest.raises(CaffeError, match="before the first forward"):
        layer.forward([], top)
    with pytest.raises(CaffeError, match="multiple of batch_size"):
        layer.set_input_arrays(np.zeros((6, 1, 2, 3), np.float32), np.zeros(6, np.float32))
    with pytest.raises(CaffeError, match=r"n x 1 x 2 x 3"):
        layer.set_input_arrays(np.zeros((4, 1, 3, 2), np.float32), np.zeros(4, np.float32))
    with pytest.raises(CaffeError, match="float32"):
        layer.set_input_arrays(np.zeros((4, 1, 2, 3)), np.zeros(4, np.float32))


def image_layer(source, root, extra=""):
    return (f'name: "im" type: "ImageData" top: "data" top: "label" image_data_param {{ '
            f'source: "{source}" root_folder: "{root}" {extra} }}')


def test_image_data_reads_pngs_like_caffe():
    exp = np.load(need(IMAGESET / "expected.npz"))
    root = str(IMAGESET / "images") + "/"
    [(data, label)] = run_data_layer(image_layer(IMAGESET / "list.txt", root, "batch_size: 30"))
    np.testing.assert_array_equal(data, exp["encoded_original/decoded_bgr"].astype(np.float32))
    np.testing.assert_array_equal(label, exp["source/labels"])
    out = run_data_layer(image_layer(IMAGESET / "list.txt", root,
                                     "batch_size: 7 new_height: 7 new_width: 9 is_color: false"),
                         batches=5)
    assert out[0][0].shape == (7, 1, 7, 9)
    # 35 images read from a list of 30: the 5th batch wraps around.
    labels = np.concatenate([lab for _, lab in out])
    np.testing.assert_array_equal(labels, np.concatenate([exp["source/labels"]] * 2)[:35])


def test_image_data_shuffle_keeps_every_image():
    exp = np.load(need(IMAGESET / "expected.npz"))
    root = str(IMAGESET / "images") + "/"
    [(_, label)] = run_data_layer(image_layer(IMAGESET / "list.txt", root,
                                              "batch_size: 30 shuffle: true"), TRAIN)
    assert sorted(label.tolist()) == sorted(exp["source/labels"].tolist())


def test_image_data_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(FormatError, match="is empty"):
        run_data_layer(image_layer(tmp_path / "empty.txt", ""))
    (tmp_path / "list.txt").write_text("broken.png 3\n")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(FormatError, match="could not load image .*broken.png"):
        run_data_layer(image_layer(tmp_path / "list.txt", str(tmp_path) + "/"))
