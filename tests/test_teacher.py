"""ONNX teacher layer: transform, shape errors, logit cache (counted onnxruntime calls),
blending. A tiny model is built here with onnx.helper; the client's MNIST teacher from
../shared/teachers is checked against its documented accuracy."""
import gzip
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from caffe_compat.blob import Blob
from caffe_compat.errors import CaffeError
from caffe_compat.proto import caffe_pb2
from conftest import DATASETS, TEACHERS, need
from solver.teacher import ONNXTeacher, cache_path_for, resize_bilinear


def tiny_model(path, weight, in_shape=(1, 4, 4)):
    """logits = flatten(x / 255) @ weight (a Gemm graph)."""
    k, c = weight.shape
    graph = helper.make_graph(
        [helper.make_node("Div", ["x", "d"], ["xs"]),
         helper.make_node("Flatten", ["xs"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "w"], ["logits"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", c])],
        [numpy_helper.from_array(np.array(255, np.float32), "d"),
         numpy_helper.from_array(weight.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def make_layer(params, data, phase=0):
    p = caffe_pb2.LayerParameter(name="teacher", type="Python")
    p.python_param.param_str = json.dumps(params)
    layer = ONNXTeacher(p, phase)
    bottom, top = [Blob(data.shape)], [Blob(())]
    bottom[0].data[...] = data
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    return layer, bottom, top


def forward(layer, bottom, top, data):
    bottom[0].data[...] = data
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    return top[0].data.copy()


@pytest.fixture
def model(tmp_path):
    w = np.random.default_rng(0).normal(size=(16, 3))
    return tmp_path / "t.onnx", tiny_model(tmp_path / "t.onnx", w), w


def test_logits_follow_transform(model):
    path, _, w = model
    data = np.random.default_rng(1).uniform(0, 1, (5, 1, 4, 4)).astype(np.float32)
    layer, bottom, top = make_layer({"onnx": str(path), "unscale": 256, "num_classes": 3}, data)
    out = forward(layer, bottom, top, data)
    expected = (data.reshape(5, -1).astype(np.float64) * 256 / 255) @ w
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_cache_second_epoch_runs_no_teacher_and_changed_model_recomputes(tmp_path):
    rng = np.random.default_rng(2)
    dataset = rng.uniform(0, 1, (40, 1, 4, 4)).astype(np.float32)
    data_file = tmp_path / "data.bin"
    data_file.write_bytes(dataset.tobytes())
    path = tiny_model(tmp_path / "t.onnx", rng.normal(size=(16, 3)))
    params = {"onnx": str(path), "data": str(data_file)}
    layer, bottom, top = make_layer(params, dataset[:8])
    ensemble = layer.teacher.ensemble
    runs_at_setup = ensemble.runs
    first = [forward(layer, bottom, top, dataset[i:i + 8]) for i in range(0, 40, 8)]
    assert ensemble.runs - runs_at_setup == 5
    second = [forward(layer, bottom, top, dataset[i:i + 8]) for i in range(0, 40, 8)]
    assert ensemble.runs - runs_at_setup == 5, "the second epoch must not run the teacher"
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))
    # Another batch size and order hits the same cache.
    forward(layer, bottom, top, dataset[::-1][:8].copy())
    assert ensemble.runs - runs_at_setup == 5
    layer.close()
    cache_file = cache_path_for(str(data_file), ensemble)
    assert cache_file.endswith(".npz")
    import os
    assert os.path.exists(cache_file)

    # A later run (a new process: no cache in memory) with the same model reuses the file.
    from solver.teacher import forget_open_caches

    forget_open_caches()
    layer2, b2, t2 = make_layer(params, dataset[:8])
    base = layer2.teacher.ensemble.runs
    again = forward(layer2, b2, t2, dataset[8:16])
    np.testing.assert_array_equal(again, first[1])
    assert layer2.teacher.ensemble.runs == base

    # A changed ONNX file gets a new cache: it recomputes, with the new model's numbers.
    forget_open_caches()
    tiny_model(path, rng.normal(size=(16, 3)))
    layer3, b3, t3 = make_layer(params, dataset[:8])
    base = layer3.teacher.ensemble.runs
    changed = forward(layer3, b3, t3, dataset[8:16])
    assert layer3.teacher.ensemble.runs == base + 1
    assert not np.allclose(changed, first[1])


def test_new_transform_code_gets_a_new_cache_file(tmp_path, monkeypatch):
    """A tscaffe whose transform code differs (another code_digest) never reads the logits
    an older one cached for the same model and data: the file's name changes and the
    teacher runs again."""
    import solver.teacher.ensemble as ensemble_module
    from solver.teacher import forget_open_caches

    rng = np.random.default_rng(3)
    dataset = rng.uniform(0, 1, (8, 1, 4, 4)).astype(np.float32)
    data_file = tmp_path / "data.bin"
    data_file.write_bytes(dataset.tobytes())
    params = {"onnx": str(tiny_model(tmp_path / "t.onnx", rng.normal(size=(16, 3)))), "data": str(data_file)}
    layer, bottom, top = make_layer(params, dataset)
    forward(layer, bottom, top, dataset)
    layer.close()
    old = cache_path_for(str(data_file), layer.teacher.ensemble)
    forget_open_caches()
    monkeypatch.setattr(ensemble_module, "_code_digest", "another-version")
    layer2, b2, t2 = make_layer(params, dataset)
    base = layer2.teacher.ensemble.runs
    forward(layer2, b2, t2, dataset)
    assert layer2.teacher.ensemble.runs == base + 1, "the new code labels the data itself"
    assert cache_path_for(str(data_file), layer2.teacher.ensemble) != old


def test_a_named_cache_file_of_another_teacher_is_refused(tmp_path):
    """``cache_file`` names the file, so nothing in the name tells teachers apart: the file
    records its teacher's key, and another teacher (or an older file that records none)
    gets a clear error instead of the stale logits."""
    from solver.teacher import forget_open_caches

    rng = np.random.default_rng(4)
    dataset = rng.uniform(0, 1, (8, 1, 4, 4)).astype(np.float32)
    cache = tmp_path / "logits.npz"
    first = tiny_model(tmp_path / "a.onnx", rng.normal(size=(16, 3)))
    layer, bottom, top = make_layer({"onnx": str(first), "cache_file": str(cache)}, dataset)
    want = forward(layer, bottom, top, dataset)
    layer.close()
    with np.load(cache) as z:
        assert str(z["teacher"]) == layer.teacher.ensemble.key
    forget_open_caches()
    # The same teacher reads it back without running.
    again, b, t = make_layer({"onnx": str(first), "cache_file": str(cache)}, dataset)
    base = again.teacher.ensemble.runs
    np.testing.assert_array_equal(forward(again, b, t, dataset), want)
    assert again.teacher.ensemble.runs == base
    forget_open_caches()
    second = tiny_model(tmp_path / "b.onnx", rng.normal(size=(16, 3)))
    with pytest.raises(CaffeError, match="holds another teacher's logits.*delete it or give another cache_file"):
        make_layer({"onnx": str(second), "cache_file": str(cache)}, dataset)
    forget_open_caches()
    with np.load(cache) as z:  # as an older tscaffe wrote it: no teacher key
        np.savez(cache, keys=z["keys"], logits=z["logits"])
    with pytest.raises(CaffeError, match="does not record which teacher"):
        make_layer({"onnx": str(first), "cache_file": str(cache)}, dataset)
    forget_open_caches()


def test_no_cache_runs_every_time(model):
    path, _, _ = model
    data = np.ones((4, 1, 4, 4), np.float32)
    layer, bottom, top = make_layer({"onnx": str(path), "cache": False}, data)
    base = layer.teacher.ensemble.runs
    for _ in range(3):
        forward(layer, bottom, top, data)
    assert layer.teacher.ensemble.runs == base + 3


def test_blending_probabilities_and_logits(tmp_path):
    rng = np.random.default_rng(3)
    w1, w2 = rng.normal(size=(16, 3)), rng.normal(size=(16, 3))
    p1, p2 = tiny_model(tmp_path / "a.onnx", w1), tiny_model(tmp_path / "b.onnx", w2)
    data = rng.uniform(0, 255, (6, 1, 4, 4)).astype(np.float32)
    z1 = data.reshape(6, -1).astype(np.float64) / 255 @ w1
    z2 = data.reshape(6, -1).astype(np.float64) / 255 @ w2
    sm = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
    teachers = [{"onnx": str(p1)}, {"onnx": str(p2)}]
    layer, b, t = make_layer({"teachers": teachers}, data)
    out = forward(layer, b, t, data)
    np.testing.assert_allclose(sm(out.astype(np.float64)), (sm(z1) + sm(z2)) / 2, rtol=1e-4, atol=1e-6)
    layer, b, t = make_layer({"teachers": teachers, "blend": "logit"}, data)
    np.testing.assert_allclose(forward(layer, b, t, data), (z1 + z2) / 2, rtol=1e-4, atol=1e-4)


def test_shape_errors_name_both_shapes(model):
    path, _, _ = model
    with pytest.raises(CaffeError, match=r"teacher gives 3 classes but the student has 10.*10"):
        make_layer({"onnx": str(path), "num_classes": 10}, np.zeros((2, 1, 4, 4), np.float32))
    with pytest.raises(CaffeError, match=r"expects input x of shape \['N', 1, 4, 4\].*\[1, 1, 5, 5\]"):
        make_layer({"onnx": str(path)}, np.zeros((2, 1, 5, 5), np.float32))
    # resizing to the teacher's size fixes it
    make_layer({"onnx": str(path), "resize": [4, 4]}, np.zeros((2, 1, 5, 5), np.float32))
    with pytest.raises(CaffeError, match="not found"):
        make_layer({"onnx": "missing.onnx"}, np.zeros((2, 1, 4, 4), np.float32))


def test_resize_bilinear_matches_pillow():
    from PIL import Image

    img = np.random.default_rng(4).uniform(0, 255, (9, 13)).astype(np.float32)
    ours = resize_bilinear(img[None, None], 5, 7)[0, 0]
    pil = np.asarray(Image.fromarray(img, mode="F").resize((7, 5), Image.BILINEAR, reducing_gap=None))
    # Pillow's bilinear widens its filter when downscaling; compare an upscale exactly.
    up = resize_bilinear(img[None, None], 18, 26)[0, 0]
    pil_up = np.asarray(Image.fromarray(img, mode="F").resize((26, 18), Image.BILINEAR))
    np.testing.assert_allclose(up, pil_up, rtol=1e-4, atol=1e-2)
    assert ours.shape == pil.shape


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * ndim], dtype=">i4")
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def test_client_teacher_on_mnist():
    onnx_path = need(TEACHERS / "advertorch_lenet5_clean.onnx")
    images = read_idx(need(DATASETS / "mnist" / "t10k-images-idx3-ubyte.gz"))[:1000]
    labels = read_idx(DATASETS / "mnist" / "t10k-labels-idx1-ubyte.gz")[:1000]
    data = (images[:, None].astype(np.float32) * np.float32(0.00390625))
    layer, b, t = make_layer({"onnx": str(onnx_path), "unscale": 256, "num_classes": 10,
                              "cache": False}, data[:100])
    correct = 0
    for i in range(0, 1000, 100):
        correct += int((forward(layer, b, t, data[i:i + 100]).argmax(1) == labels[i:i + 100]).sum())
    # The README measures 98.89 % on all 10,000; the first 1,000 are easier for most models.
    assert correct >= 975


def test_label_command_fills_the_cache_the_layer_reads(tmp_path):
    """`tscaffe label` over an LMDB, then a Net reading that LMDB through a Data layer: the
    teacher layer finds every sample in the cache and never runs the teacher."""
    from caffe_compat.data.convert import write_datum_lmdb
    from google.protobuf import text_format

    import caffe_compat as caffe
    from solver.teacher import forget_open_caches
    from solver.cli import main

    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (96, 1, 4, 4), dtype=np.uint8)
    db = tmp_path / "train_lmdb"
    write_datum_lmdb(images, np.zeros(96, np.int64), str(db))
    w = rng.normal(size=(16, 3))
    model = tiny_model(tmp_path / "t.onnx", w)
    assert main(["label", "--teacher", str(model), "--data", str(db), "--batch", "32"]) == 0
    forget_open_caches()  # as in a later process
    param = text_format.Parse(f"""
      layer {{ name: "data" type: "Data" top: "data" top: "label"
        transform_param {{ scale: 0.00390625 }}
        data_param {{ source: "{db}" batch_size: 32 backend: LMDB }} }}
      layer {{ name: "teacher" type: "Python" bottom: "data" top: "logits"
        python_param {{ module: "solver.teacher" layer: "ONNXTeacher"
          param_str: '{{"onnx": "{model}", "unscale": 256, "data": "{db}"}}' }} }}
    """, caffe_pb2.NetParameter())
    net = caffe.Net(param, caffe.TRAIN)
    teacher = net.layers[1].teacher
    runs_after_setup = teacher.ensemble.runs
    for _ in range(3):
        net.forward()
    assert teacher.ensemble.runs == runs_after_setup
    # third batch: records 64..95; the teacher sees raw pixels (x / 256 * 256), divides by 255
    expected = images[64:96].reshape(32, -1).astype(np.float64) / 255 @ w
    np.testing.assert_allclose(net.blobs["logits"].data, expected, rtol=1e-5, atol=1e-4)


def test_changed_dataset_gets_another_cache_file(tmp_path):
    from solver.teacher import TeacherEnsemble, OnnxModel as OnnxTeacher

    path = tiny_model(tmp_path / "t.onnx", np.ones((16, 3)))
    ensemble = TeacherEnsemble([OnnxTeacher(str(path))])
    data = tmp_path / "data.bin"
    data.write_bytes(b"\x00" * 64)
    first = cache_path_for(str(data), ensemble)
    data.write_bytes(b"\x01" * 64)
    assert cache_path_for(str(data), ensemble) != first
    assert cache_path_for(str(data), ensemble) == cache_path_for(str(data), ensemble)


def test_threads_reach_onnxruntime(model):
    path, _, _ = model
    layer, _, _ = make_layer({"onnx": str(path), "threads": 1}, np.zeros((2, 1, 4, 4), np.float32))
    opts = layer.teacher.ensemble.teachers[0].session.get_session_options()
    assert opts.intra_op_num_threads == 1


def test_teacher_stays_out_of_backward_and_memory(model):
    """In a student net the teacher adds its logits top and nothing else: no gradient for its
    input, no backward for it, and the student's gradients are those without the teacher."""
    from google.protobuf import text_format

    import caffe_compat as caffe

    path, _, _ = model
    text = """
      layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 8 dim: 1 dim: 4 dim: 4 } } }
      layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.1 } } }
      layer { name: "teacher" type: "Python" bottom: "data" top: "t"
        python_param { module: "solver.teacher" layer: "ONNXTeacher" param_str: '{"onnx": "%s"}' } }
      layer { name: "kd" type: "Python" bottom: "ip" bottom: "t" top: "kd" loss_weight: 1
        python_param { module: "caffe_compat.layer_types.distillation" layer: "KnowledgeDistillation"
          param_str: '{"temperature": 2}' } }
    """ % path
    caffe.set_random_seed(3)
    net = caffe.Net(text_format.Parse(text, caffe_pb2.NetParameter()), caffe.TRAIN)
    net.blobs["data"].data[...] = np.random.default_rng(0).uniform(0, 255, (8, 1, 4, 4))
    net.forward_backward()  # what the solver runs (pycaffe's backward() returns input diffs)
    names = net._layer_names
    assert not net.layer_need_backward[names.index("teacher")]
    assert not net.blobs["data"].diff_allocated
    assert not any(b.diff_allocated for n, b in net.blobs.items() if n.startswith("data"))
    assert net.blobs["t"].shape == (8, 3)
    assert np.abs(net.params["ip"][0].diff).sum() > 0
