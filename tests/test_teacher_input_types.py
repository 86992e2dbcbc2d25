"""Teachers whose graph is not "one float32 image input, one scores output"
(solver.teacher.graph_io, solver.teacher.model):
- an input of another type: uint8 pixels (TensorFlow / TFLite image models), float64
  (skl2onnx's double models), float16; the transformed batch is cast to the input's type,
  integer inputs taking whole values in range only;
- other inputs besides the image (a TensorFlow export's keep_prob): constant ``feeds``;
- skl2onnx's classifier outputs: an int64 label and ZipMap's {class: probability} maps;
- a batch size fixed inside a graph whose input says N (a PyTorch export's x.view(1, -1)):
  it runs one sample at a time."""
import copy

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from solver.teacher.errors import TeacherError
from solver.teacher.model import OnnxModel

TYPES = {"uint8": TensorProto.UINT8, "double": TensorProto.DOUBLE,
         "float16": TensorProto.FLOAT16, "int32": TensorProto.INT32, "bool": TensorProto.BOOL}


def with_input_type(client, tmp_path, kind):
    """The client teacher behind a Cast from an input of type ``kind``."""
    model = copy.deepcopy(onnx.load(client))
    graph = model.graph
    old = graph.input[0].name
    graph.input[0].name = f"image_{kind}"
    graph.input[0].type.tensor_type.elem_type = TYPES[kind]
    graph.node.insert(0, helper.make_node("Cast", [f"image_{kind}"], [old], to=TensorProto.FLOAT))
    onnx.checker.check_model(model)
    path = tmp_path / f"client_{kind}.onnx"
    onnx.save(model, str(path))
    return str(path)


def pixels(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 28, 28)).astype(np.float32)


def reference_logits(client, x):
    session = ort.InferenceSession(client, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("kind", ["uint8", "double", "float16", "int32"])
def test_a_teacher_of_another_input_type_gives_the_float_teachers_logits(client, tmp_path,
                                                                          kind):
    x = pixels()
    teacher = OnnxModel(with_input_type(client, tmp_path, kind))
    got = teacher.logits(x)
    # Whole pixel values 0..255 are exact in every one of these types.
    np.testing.assert_array_equal(got, reference_logits(client, x))


def test_uint8_teacher_refuses_a_transform_that_gives_fractions(client, tmp_path):
    teacher = OnnxModel(with_input_type(client, tmp_path, "uint8"), scale=1 / 255)
    with pytest.raises(TeacherError) as e:
        teacher.logits(pixels())
    text = str(e.value)
    assert "takes input 'image_uint8' as uint8 pixels" in text
    assert "not whole numbers" in text and "give it the raw pixels" in text


def test_uint8_teacher_refuses_values_out_of_range(client, tmp_path):
    teacher = OnnxModel(with_input_type(client, tmp_path, "uint8"), mean=[300.0])
    with pytest.raises(TeacherError) as e:
        teacher.logits(np.zeros((2, 1, 28, 28), np.float32))
    assert "transform gives values in [-300, -300]" in str(e.value)
    assert "not whole numbers" not in str(e.value)


def test_a_teacher_that_takes_booleans_is_refused_when_loaded(client, tmp_path):
    with pytest.raises(TeacherError, match=r"input 'image_bool' is of type tensor\(bool\); a "
                                           r"teacher must take numbers"):
        OnnxModel(with_input_type(client, tmp_path, "bool"))


def test_distill_with_a_uint8_teacher(client, mnist, tmp_path, capsys):
    from solver.cli import main

    rc = main(["distill", "--teacher", with_input_type(client, tmp_path, "uint8"), "--data",
               mnist, "--no-labels", "--iterations", "2", "--subset", "256,100",
               "-o", str(tmp_path / "run")])
    assert rc == 0
    assert "agreement=" in capsys.readouterr().out.strip().splitlines()[-1]


def with_keep_prob(client, tmp_path):
    """The client teacher with a second input: its logits times keep_prob (a scalar)."""
    model = copy.deepcopy(onnx.load(client))
    graph = model.graph
    graph.input.append(helper.make_tensor_value_info("keep_prob", TensorProto.FLOAT, []))
    graph.node.append(helper.make_node("Mul", [graph.output[0].name, "keep_prob"], ["scaled"]))
    graph.output[0].name = "scaled"
    onnx.checker.check_model(model)
    path = tmp_path / "client_keep_prob.onnx"
    onnx.save(model, str(path))
    return str(path)


def with_zipmap(client, tmp_path):
    """The client teacher as skl2onnx writes a classifier: outputs label (int64 argmax) and
    probabilities as ZipMap's list of {class: p} maps."""
    model = copy.deepcopy(onnx.load(client))
    graph = model.graph
    logits = graph.output[0].name
    graph.node.append(helper.make_node("Softmax", [logits], ["p"], axis=1))
    graph.node.append(helper.make_node("ArgMax", ["p"], ["label"], axis=1, keepdims=0))
    graph.node.append(helper.make_node("ZipMap", ["p"], ["probabilities"], domain="ai.onnx.ml",
                                       classlabels_int64s=list(range(10))))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]))
    graph.output.append(helper.make_value_info("probabilities", helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64,
                                   helper.make_tensor_type_proto(TensorProto.FLOAT, [])))))
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))
    path = tmp_path / "client_zipmap.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_a_second_input_gets_its_constant_feed(client, tmp_path):
    path = with_keep_prob(client, tmp_path)
    x = pixels()
    teacher = OnnxModel(path, feeds={"keep_prob": 0.5})
    np.testing.assert_allclose(teacher.logits(x), 0.5 * reference_logits(client, x), rtol=1e-6)
    other = OnnxModel(path, feeds={"keep_prob": 1.0})
    assert other.transform_key != teacher.transform_key   # the cache tells them apart


@pytest.mark.parametrize("feeds, message", [
    (None, "has other inputs besides its image input 'data': keep_prob [] tensor(float); "
           "give their values with --teacher-params '{\"feeds\": {\"keep_prob\": VALUE}}'"),
    ({"keep_prb": 1.0}, "feeds names 'keep_prb' (did you mean 'keep_prob'?), not among its "
                        "other inputs (keep_prob)"),
    ({"keep_prob": [1.0, 2.0]}, "feeds 'keep_prob' has shape [2], the input wants []"),
])
def test_a_second_input_without_a_fitting_feed_is_a_clear_error(client, tmp_path, feeds,
                                                                 message):
    with pytest.raises(TeacherError) as e:
        OnnxModel(with_keep_prob(client, tmp_path), feeds=feeds)
    assert message in str(e.value)


def test_feeds_are_checked_with_the_flag(tmp_path):
    from caffe_compat.errors import CaffeError
    from solver.teacher.user_params import check_user_params

    assert check_user_params('{"feeds": {"keep_prob": 1}}') == {"feeds": {"keep_prob": 1}}
    with pytest.raises(CaffeError, match="--teacher-params: 'feeds' must be an object"):
        check_user_params('{"feeds": {"keep_prob": "one"}}')


def test_skl2onnx_style_outputs_pick_the_zipmap_probabilities(client, tmp_path):
    x = pixels()
    teacher = OnnxModel(with_zipmap(client, tmp_path))
    assert teacher.output_name == "probabilities" and teacher.outputs == "probabilities"
    want = reference_logits(client, x).astype(np.float64)
    want = want - want.max(axis=1, keepdims=True)
    want = want - np.log(np.exp(want).sum(axis=1, keepdims=True))    # log-softmax
    got = teacher.logits(x)
    assert got.shape == (6, 10)
    np.testing.assert_allclose(np.exp(got), np.exp(want), atol=1e-6)
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


def with_batch_fixed_inside(client, tmp_path):
    """The client teacher with its Flatten replaced by Reshape to [1, -1]: the input still
    says [N, 1, 28, 28], but only one sample at a time goes through."""
    from onnx import numpy_helper

    model = copy.deepcopy(onnx.load(client))
    graph = model.graph
    i, node = next((i, n) for i, n in enumerate(graph.node) if n.op_type == "Flatten")
    graph.initializer.append(numpy_helper.from_array(np.array([1, -1], np.int64), "one_row"))
    graph.node.remove(node)
    graph.node.insert(i, helper.make_node("Reshape", [node.input[0], "one_row"], [node.output[0]]))
    path = tmp_path / "client_batch_inside.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_a_batch_fixed_inside_the_graph_runs_one_sample_at_a_time(client, tmp_path, capfd):
    path = with_batch_fixed_inside(client, tmp_path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception):   # the graph itself refuses a batch
        session.run(None, {"data": pixels(2)})
    x = pixels()
    teacher = OnnxModel(path)
    capfd.readouterr()
    got = teacher.logits(x)
    np.testing.assert_allclose(got, reference_logits(client, x), rtol=1e-5, atol=1e-5)
    assert teacher.fixed_batch == 1
    err = capfd.readouterr().err
    assert "fails on a batch of 6 but runs on one sample" in err
    assert "onnxruntime" not in err   # its own error print is silenced: one line, ours
    again = OnnxModel(path)   # a later instance in the process starts one at a time
    again.logits(x)
    assert again.runs == 6
