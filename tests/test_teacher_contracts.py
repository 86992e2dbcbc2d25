"""Client teachers' input contracts from --teacher-params (issue 23): flat inputs (given and
detected), padding with a fill value, the error naming the transform that would fit, and
the flag checked before anything runs, in the user's words.

The reference for each transform is onnxruntime run on input prepared by hand with plain
numpy (np.pad, reshape, transpose), never the transform under test.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from caffe_compat.errors import CaffeError
from solver.teacher import OnnxModel, TeacherError
from solver.teacher.user_params import check_user_params

RNG = np.random.default_rng(23)


def _linear_teacher(path, input_shape, classes=10, softmax=False):
    """A graph: input of ``input_shape`` -> Flatten -> Gemm (seeded weights) [-> Softmax]."""
    width = int(np.prod([d for d in input_shape[1:]]))
    w = RNG.standard_normal((width, classes)).astype(np.float32) * 0.05
    nodes = [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "w"], ["logits" if not softmax else "z"])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["z"], ["logits"], axis=1))
    graph = helper.make_graph(
        nodes, "client", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def _reference(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x.astype(np.float32)})[0]


@pytest.fixture(scope="module")
def blob():
    """A student's MNIST-like blob: raw pixels * 1/256, (N, 1, 28, 28)."""
    raw = RNG.integers(0, 256, (5, 1, 28, 28)).astype(np.float32)
    return raw, raw * np.float32(1 / 256)


def test_flat_mlp_detected_from_its_input(tmp_path, blob):
    """An MLP on [N, 784] in [0, 1] with a softmax output (the issue's Hinton-style MLP)."""
    raw, x = blob
    path = _linear_teacher(tmp_path / "mlp.onnx", ["N", 784], softmax=True)
    t = OnnxModel(path, unscale=256.0, scale=1 / 255)
    want = _reference(path, (raw / 255).reshape(5, 784))
    assert t.outputs == "probabilities"
    np.testing.assert_allclose(np.exp(t.logits(x)), want, rtol=1e-5, atol=1e-7)


def test_flat_layout_given(tmp_path, blob):
    raw, x = blob
    path = _linear_teacher(tmp_path / "mlp.onnx", ["N", 784])
    t = OnnxModel(path, unscale=256.0, layout="flat")
    np.testing.assert_allclose(t.logits(x), _reference(path, raw.reshape(5, 784)),
                               rtol=1e-5, atol=1e-5)


def test_lenet5_padded_nhwc_with_normalisation(tmp_path, blob):
    """LeNet-5's contract: [N, 32, 32, 1] NHWC, MNIST padded by 2, here normalised too:
    the border is the raw fill value taken through the same mean and std."""
    raw, x = blob
    path = _linear_teacher(tmp_path / "lenet5.onnx", ["N", 32, 32, 1])
    t = OnnxModel(path, unscale=256.0, mean=33.3, std=78.6, pad=2)
    padded = np.pad(raw, ((0, 0), (0, 0), (2, 2), (2, 2)))
    want = _reference(path, ((padded - 33.3) / 78.6).transpose(0, 2, 3, 1))
    np.testing.assert_allclose(t.logits(x), want, rtol=1e-4, atol=1e-4)
    t = OnnxModel(path, unscale=256.0, pad=[1, 3, 0, 4], fill=255)
    padded = np.pad(raw, ((0, 0), (0, 0), (1, 3), (0, 4)), constant_values=255)
    np.testing.assert_allclose(t.logits(x), _reference(path, padded.transpose(0, 2, 3, 1)),
                               rtol=1e-4, atol=1e-4)


def test_distill_takes_fill_in_raw_pixels(blob):
    """teacher_config turns a raw fill into the units after unscale (raw - student mean)."""
    from types import SimpleNamespace

    from solver.distill.teacher_step import teacher_config

    ds = SimpleNamespace(transform={"scale": 1 / 256, "mean_value": [10.0]}, num_classes=10,
                         root="/nowhere")
    cfg = teacher_config(["t.onnx"], ds, {"pad": 2, "fill": 255}, cache=False)
    assert cfg["fill"] == [245.0] and cfg["pad"] == 2 and cfg["unscale"] == 256.0


@pytest.mark.parametrize("shape, fix", [
    (["N", 32, 32, 1], "'{\"pad\": 2}' or '{\"resize\": [32, 32]}' (LeNet-5"),
    (["N", 1, 24, 24], '"crop": [24, 24]'),
    (["N", 1024], '"pad": 2'),
    (["N", 1, 30, 29], '"pad": [1, 1, 0, 1]'),
])
def test_shape_error_names_the_transform_that_fits(tmp_path, blob, shape, fix):
    _, x = blob
    path = _linear_teacher(tmp_path / "t.onnx", shape)
    t = OnnxModel(path, unscale=256.0)
    with pytest.raises(TeacherError) as e:
        t.check_input(x.shape[1:])
    assert fix in str(e.value) and "--teacher-params" in str(e.value), str(e.value)
    assert '"resize"' in str(e.value)


def test_shape_error_when_nothing_fits(tmp_path, blob):
    _, x = blob
    path = _linear_teacher(tmp_path / "two.onnx", ["N", 2, 28, 28])
    with pytest.raises(TeacherError, match="no transform makes it fit"):
        OnnxModel(path, unscale=256.0).check_input(x.shape[1:])
    gray = _linear_teacher(tmp_path / "gray.onnx", ["N", 1, 28, 28])
    with pytest.raises(TeacherError, match="nothing reduces the data's channels"):
        OnnxModel(gray).check_input((3, 28, 28))


def test_shape_error_names_channels_for_a_three_channel_teacher_on_gray_data(tmp_path, blob):
    _, x = blob
    path = _linear_teacher(tmp_path / "rgb.onnx", ["N", 3, 28, 28])
    with pytest.raises(TeacherError) as e:
        OnnxModel(path, unscale=256.0).check_input(x.shape[1:])
    assert str(e.value).endswith("this would make it fit: --teacher-params '{\"channels\": 3}'")
    path = _linear_teacher(tmp_path / "rgb32.onnx", ["N", 3, 32, 32])
    with pytest.raises(TeacherError, match=r"'\{\"channels\": 3, \"pad\": 2\}'"):
        OnnxModel(path, unscale=256.0).check_input(x.shape[1:])


def test_channels_repeat_gray_before_a_three_value_normalisation(tmp_path, blob):
    """torchvision Grayscale(3) + ToTensor + Normalize(ImageNet's mean and std), in raw
    pixels: the reference repeats the raw image with np.repeat and normalises by hand."""
    raw, x = blob
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    path = _linear_teacher(tmp_path / "rgb.onnx", ["N", 3, 28, 28])
    t = OnnxModel(path, unscale=256.0, channels=3, mean=mean, std=std)
    t.check_input(x.shape[1:])
    rgb = np.repeat(raw, 3, axis=1)
    want = (rgb - np.array(mean, np.float32).reshape(1, 3, 1, 1)) / np.array(
        std, np.float32).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(t.logits(x), _reference(path, want), rtol=1e-4, atol=1e-4)
    with pytest.raises(TeacherError, match="'channels' 3 repeats a one-channel image; the data "
                                           "has 2 channels"):
        t.transform(np.zeros((1, 2, 28, 28), np.float32))


@pytest.mark.parametrize("params, message", [
    ('{"stdev": 78.6}', "--teacher-params: unknown key 'stdev' (did you mean 'std'?)"),
    ('{"layout": "NWHC"}', "--teacher-params: 'layout' must be one of"),
    ('{"pad": -2}', "--teacher-params: 'pad' must be n"),
    ('{"pad": [1, 2, 3]}', "--teacher-params: 'pad' must be n"),
    ('{"resize": "32"}', "--teacher-params: 'resize' must be n or [h, w]"),
    ('{"std": 0}', "--teacher-params: 'std' must be > 0"),
    ('{"mean": "x"}', "--teacher-params: 'mean' must be a number"),
    ('{"logit_scale": 2}', "it is set by --logit-scale"),
    ('{"outputs": "softmax"}', "--teacher-params: 'outputs' must be one of"),
    ('{"channels": "3"}', "--teacher-params: 'channels' must be a positive integer"),
    ('{"channels": 0}', "--teacher-params: 'channels' must be a positive integer"),
    ('[1, 2]', "--teacher-params must be a JSON object"),
    ('{"std": 1', "--teacher-params is not valid JSON"),
])
def test_teacher_params_in_the_users_words(params, message):
    with pytest.raises(CaffeError) as e:
        check_user_params(params)
    assert message in str(e.value), str(e.value)


def test_teacher_params_valid():
    value = '{"mean": [33.3], "std": [78.6], "pad": [2, 2], "fill": 0, "layout": "NHWC"}'
    assert check_user_params(value)["pad"] == [2, 2]


def test_cli_refuses_a_misspelt_key_before_anything_runs(tmp_path):
    """The issue's case: 'stdev' was reported after the teacher ran on 2,048 samples, in
    internal names; now the command stops at once and writes nothing."""
    path = _linear_teacher(tmp_path / "t.onnx", ["N", 1, 28, 28])
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "solver", "distill", "--teacher", path, "-o", str(out),
         "--teacher-params", '{"mean": 33.3, "stdev": 78.6}'],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert proc.returncode != 0
    assert "--teacher-params: unknown key 'stdev' (did you mean 'std'?)" in proc.stderr
    assert not out.exists()


def test_client_contracts_ported_from_flags(tmp_path):
    """The issue's client teachers, made from the shared client teacher by graph edits
    (tests/teacher_variants.py): each, given its --teacher-params (or none: detected),
    gives the client's own logits on raw pixels (onnxruntime on the original graph)."""
    import teacher_variants as tv
    from conftest import TEACHERS, need

    client = str(need(TEACHERS / "advertorch_lenet5_clean.onnx"))
    raw = RNG.integers(0, 256, (6, 1, 28, 28)).astype(np.float32)
    blob = raw / np.float32(256)
    sess = ort.InferenceSession(client, providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: raw})[0]
    log_softmax = want - want.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    cases = [
        (tv.flat_mlp_input(client, tmp_path / "mlp.onnx"), {"scale": 1 / 255}, log_softmax),
        (tv.padded_nhwc_input(client, tmp_path / "lenet5.onnx"), {"pad": 2}, want),
        (tv.normalized_input(client, tmp_path / "norm.onnx", 0.1307, 0.3081),
         {"mean": 255 * 0.1307, "std": 255 * 0.3081}, want),
    ]
    for path, params, expected in cases:
        check_user_params(params)
        t = OnnxModel(path, unscale=256.0, **params)
        t.check_input((1, 28, 28))
        np.testing.assert_allclose(t.logits(blob), expected, rtol=1e-3, atol=2e-3,
                                   err_msg=path)
    with pytest.raises(TeacherError, match='"pad": 2'):
        OnnxModel(cases[1][0], unscale=256.0).check_input((1, 28, 28))
