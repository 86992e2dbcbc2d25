"""Teachers whose graph input is not float32: uint8 pixels (TensorFlow / TFLite image
models), float64 (skl2onnx's double models), float16. The transformed batch is cast to the
input's type; integer inputs take whole values in range only (solver.teacher.model)."""
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
