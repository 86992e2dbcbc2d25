"""The bench's BatchNorm Fashion-MNIST teacher (bench/bn_teacher.py): its ONNX file keeps
BatchNormalization nodes, onnxruntime's accuracy on it equals the accuracy its own framework
measured, and the x30 file's logits are 30 times the teacher's."""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from conftest import DATASETS, need

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import bn_teacher  # noqa: E402
import teacher_variants as tv  # noqa: E402


def _check(path, own_acc, fashion, scale, tmp_path):
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert "BatchNormalization" in ops, ops
    _, _, vx, vy = bn_teacher._fashion(fashion)
    vx, vy = vx[:200], vy[:200]
    acc = bn_teacher.onnx_accuracy(path, vx, vy, scale)
    assert acc == pytest.approx(own_acc, abs=1e-6) and acc > 0.3
    x30 = tv.scaled(path, str(tmp_path / "x30.onnx"), 30.0)
    x = vx[:16].astype(np.float32) * scale
    raw = ort.InferenceSession(path).run(None, {"data": x})[0]
    big = ort.InferenceSession(x30).run(None, {"data": x})[0]
    np.testing.assert_allclose(big, 30 * raw, rtol=1e-5, atol=1e-4)


def test_tscaffe_bn_teacher(tmp_path):
    fashion = str(need(DATASETS / "fashion-mnist"))
    path, own_acc, _ = bn_teacher.train_tscaffe(fashion, str(tmp_path), 30, subset=(640, 200))
    _check(path, own_acc, fashion, 0.00390625, tmp_path)


def test_pytorch_bn_teacher(tmp_path):
    pytest.importorskip("torch")
    fashion = str(need(DATASETS / "fashion-mnist"))
    path, own_acc, _ = bn_teacher.train_torch(fashion, str(tmp_path), epochs=3,
                                              subset=(1280, 200))
    _check(path, own_acc, fashion, 1.0, tmp_path)
