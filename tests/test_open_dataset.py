"""One place opens a dataset (caffe_compat.data.open_dataset): the facts are read from the
data (class count, channel mean, sample counts) and a conversion is named by its source and
subset, so a stale one is never reused. The tests through ``distill`` failed on the code
before this module (every LMDB pair had 10 classes, every 3-channel LMDB CIFAR-10's mean,
OUT/data/ was reused whatever its subset, the report said 4,000 / 1,000 with --subset)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from caffe_compat.errors import CaffeError


def centroid_teacher(path, images, labels, classes):
    """A nearest-centroid teacher on raw pixels: logits_k = x.c_k - |c_k|^2 / 2 (x, c in
    [0, 1]); its argmax follows the labels well enough to pass the probe's contract."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255
    cent = np.stack([x[labels == k].mean(axis=0) for k in range(classes)])
    w = cent.T.astype(np.float32)
    b = (-0.5 * (cent ** 2).sum(axis=1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Div", ["data", "d"], ["xs"]),
         helper.make_node("Flatten", ["xs"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "w", "b"], ["logits"])],
        "centroids",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", *images.shape[1:]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(np.array(255, np.float32), "d"),
         numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def lmdb_pair(root, train, test):
    from caffe_compat.data.convert import write_datum_lmdb

    root.mkdir()
    write_datum_lmdb(*train, str(root / "train_lmdb"))
    write_datum_lmdb(*test, str(root / "test_lmdb"))
    return str(root)


def quick(tmp_path, teacher, data, out="out", **kw):
    from solver.distill import distill

    args = dict(labels=False, iterations=2, test_interval=2, display=1, bn_passes=0)
    args.update(kw)
    return distill([teacher], "lenet", data, str(tmp_path / out), **args)


def student_layers(report):
    from prototxt import read_net

    return read_net(report["files"]["student_prototxt"]).layer


def test_lmdb_class_count_is_read_from_the_labels(tmp_path):
    from caffe_compat.data import open_dataset
    from caffe_compat.data.datasets import load_default_mnist

    tx, ty, vx, vy = load_default_mnist()
    keep, keep_test = ty < 5, vy < 5          # five classes: digits 0..4
    data = lmdb_pair(tmp_path / "five", (tx[keep][:400], ty[keep][:400]),
                     (vx[keep_test][:100], vy[keep_test][:100]))
    assert open_dataset(data, str(tmp_path / "w")).num_classes == 5
    teacher = centroid_teacher(tmp_path / "t5.onnx", tx[keep], ty[keep], 5)
    rep = quick(tmp_path, teacher, data)
    ips = [l for l in student_layers(rep) if l.type == "InnerProduct"]
    assert ips[-1].inner_product_param.num_output == 5


def test_three_channel_lmdb_mean_is_the_datas(tmp_path):
    from caffe_compat.data import open_dataset

    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    base = np.array([10.0, 200.0, 60.0])[None, :, None, None]
    images = np.clip(base + labels[:, None, None, None] * 3
                     + rng.normal(0, 5, (300, 3, 32, 32)), 0, 255).astype(np.uint8)
    data = lmdb_pair(tmp_path / "rgb", (images[:240], labels[:240]),
                     (images[240:], labels[240:]))
    want = images[:240].astype(np.float64).mean(axis=(0, 2, 3))
    got = open_dataset(data, str(tmp_path / "w")).transform["mean_value"]
    np.testing.assert_allclose(got, want, atol=1e-3)
    teacher = centroid_teacher(tmp_path / "rgb.onnx", images[:240], labels[:240], 10)
    rep = quick(tmp_path, teacher, data)
    (train_data,) = [l for l in student_layers(rep)
                     if l.type == "Data" and l.include and l.include[0].phase == 0]
    np.testing.assert_allclose(list(train_data.transform_param.mean_value), want, atol=1e-3)


def test_another_subset_never_reuses_a_stale_conversion(tmp_path):
    from caffe_compat.data.datasets import load_default_mnist
    from caffe_compat.data.lmdb_source import LMDBSource
    from prototxt import read_net

    tx, ty, _, _ = load_default_mnist()
    teacher = centroid_teacher(tmp_path / "t.onnx", tx, ty, 10)
    for n in (640, 1280):
        rep = quick(tmp_path, teacher, None, subset=(n, 320))
        (train_data,) = [l for l in read_net(rep["files"]["ts_prototxt"]).layer
                         if l.type == "Data" and l.include[0].phase == 0]
        # the held-out slice of the early stop is not trained on
        assert len(LMDBSource(train_data.data_param.source)) == n - rep["heldout_samples"]
        assert rep["train_samples"] + rep["heldout_samples"] == n and rep["test_samples"] == 320
        assert f"{n:,} train / 320 test" in rep["data"], rep["data"]


def test_detection_order_and_named_folders(tmp_path):
    from caffe_compat.data import dataset as D
    from caffe_compat.data.datasets import load_default_mnist

    assert D.detect(None) == "embedded"
    tx, ty, vx, vy = load_default_mnist()
    pair = lmdb_pair(tmp_path / "pair", (tx[:64], ty[:64]), (vx[:32], vy[:32]))
    assert D.detect(pair) == "lmdb"
    assert D.detect(f"{pair}/train_lmdb,{pair}/test_lmdb") == "lmdb"
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    (cifar / "test_batch.bin").write_bytes(bytes(3073))
    assert D.detect(str(cifar)) == "cifar10"
    with pytest.raises(CaffeError, match="none of the layouts tscaffe reads"):
        D.detect(str(tmp_path))   # neither: every layout is named
    a = D.conversion_folder(str(tmp_path), None, (640, 320))
    b = D.conversion_folder(str(tmp_path), None, (1280, 320))
    c = D.conversion_folder(str(tmp_path), str(cifar), (640, 320))
    assert len({a, b, c}) == 3
    # An LMDB pair with a subset is copied: the first records, the facts of the copy.
    ds = D.open_dataset(pair, str(tmp_path / "w"), (16, 8))
    assert (ds.num_train, ds.num_test) == (16, 8)
    assert ds.num_classes == int(max(ty[:16].max(), vy[:8].max())) + 1


def test_changed_source_converts_again(tmp_path):
    import os
    import struct

    from caffe_compat.data import open_dataset

    folder = tmp_path / "idx"
    folder.mkdir()

    def write(images, labels, stem):
        n = len(images)
        (folder / f"{stem}-images-idx3-ubyte").write_bytes(
            struct.pack(">iiii", 2051, n, 28, 28) + images.tobytes())
        (folder / f"{stem}-labels-idx1-ubyte").write_bytes(
            struct.pack(">ii", 2049, n) + labels.astype(np.uint8).tobytes())

    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 255, (20, 28, 28), dtype=np.uint8)
    write(imgs, np.arange(20) % 3, "train")
    write(imgs[:6], np.arange(6) % 3, "t10k")
    first = open_dataset(str(folder), str(tmp_path / "w"))
    assert first.num_classes == 3 and first.num_train == 20
    write(imgs, np.arange(20) % 4, "train")
    os.utime(folder / "train-labels-idx1-ubyte", ns=(1, 1))   # changed bytes, odd time
    again = open_dataset(str(folder), str(tmp_path / "w"))
    assert again.num_classes == 4, "a changed source must be converted again"
    assert again.train_lmdb == first.train_lmdb
