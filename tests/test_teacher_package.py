"""The teacher package's contracts: one param_str table for the layer, the renderer and the
template; the probe returns a plan and leaves its input alone; a distill run hashes its
dataset once and its nets' layers, given the cache file, never hash it."""
import copy
import json

import pytest


def test_one_table_of_param_str_keys(tmp_path):
    from caffe_compat.errors import CaffeError
    from prototxt import net_builder, teacher_param
    from prototxt.render import render_config
    from solver.teacher import layer as teacher_layer

    assert net_builder.ONNX_KEYS == set(teacher_param.ALL_KEYS)
    for key in teacher_param.ALL_KEYS:   # the layer's documentation is the table
        assert key in teacher_layer.__doc__
    cfg = {"nets": {"ts": {
        "name": "ts",
        "data": [{"name": "data", "phase": "TRAIN", "source": "x", "batch_size": 2}],
        "student": {"arch": "lenet", "tag": "_s"},
        "teacher": {"onnx": "t.onnx", "unscale": 256.0}}}}
    text = render_config(cfg)["ts.prototxt"]
    assert f'module: "{teacher_param.PYTHON_MODULE}"' in text
    assert f'layer: "{teacher_param.PYTHON_LAYER}"' in text
    assert f'top: "{teacher_param.TOP}"' in text
    cfg["nets"]["ts"]["teacher"]["not_a_key"] = 1
    with pytest.raises(CaffeError, match="not_a_key"):
        render_config(cfg)


def _tiny_lmdb_pair(root, n_train=96, n_test=32):
    from caffe_compat.data.convert import write_datum_lmdb
    from caffe_compat.data.datasets import load_default_mnist

    train_x, train_y, test_x, test_y = load_default_mnist()
    root.mkdir()
    write_datum_lmdb(train_x[:n_train], train_y[:n_train], str(root / "train_lmdb"))
    write_datum_lmdb(test_x[:n_test], test_y[:n_test], str(root / "test_lmdb"))
    return root


def test_probe_returns_a_plan_and_changes_nothing(tmp_path, client):
    from solver import distill as D
    from solver.teacher.probe import probe_teacher

    data = _tiny_lmdb_pair(tmp_path / "data")
    spec = D.prepare_data(str(data), str(tmp_path / "out"))
    tcfg = D.teacher_config([client], spec)
    before = copy.deepcopy(tcfg)
    plan = probe_teacher(tcfg, spec, samples=64)
    assert tcfg == before, "the probe must not edit the config it is given"
    assert plan.params is not tcfg and plan.params["cache_file"] == plan.cache_file
    assert plan.logits.shape == (64, 10) and plan.profile.samples == 64


def test_a_run_hashes_its_data_once_and_the_layer_never(tmp_path, client):
    from caffe_compat.blob import Blob
    from caffe_compat.proto import caffe_pb2
    from prototxt import read_net
    from solver.distill import distill
    from solver.teacher import ONNXTeacher, hashing

    data = _tiny_lmdb_pair(tmp_path / "data")
    before = hashing.hash_count
    rep = distill([client], "lenet", str(data), str(tmp_path / "out"), labels=False,
                  iterations=4, test_interval=4, display=2, bn_passes=0)
    assert hashing.hash_count - before == 1, "one run must hash its dataset once"
    net = read_net(rep["files"]["ts_prototxt"])
    (layer,) = [l for l in net.layer if l.python_param.layer == "ONNXTeacher"]
    params = json.loads(layer.python_param.param_str)
    assert params["cache_file"].endswith(".npz")

    # Given the cache file, a layer reads it and hashes nothing, even with new data bytes.
    (data / "train_lmdb" / "extra.bin").write_bytes(b"changed")
    before = hashing.hash_count
    p = caffe_pb2.LayerParameter(name="teacher", type="Python")
    p.python_param.param_str = json.dumps(params)
    teacher = ONNXTeacher(p, 0)
    bottom, top = [Blob((2, 1, 28, 28))], [Blob(())]
    teacher.setup(bottom, top)
    assert hashing.hash_count == before
    assert teacher.teacher.cache_path == params["cache_file"]
    assert len(teacher.teacher.cache) > 0


def test_dataset_hash_follows_changed_files(tmp_path):
    from solver.teacher.hashing import dataset_sha256

    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"one")
    first = dataset_sha256(str(folder))
    assert dataset_sha256(str(folder)) == first
    (folder / "a.bin").write_bytes(b"two!")
    assert dataset_sha256(str(folder)) != first
