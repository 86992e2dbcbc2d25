"""MVN: Caffe's numbers (defaults, mean only, across channels with eps 0.1, 2- and 3-axis
bottoms, which Caffe's top turns into 4 axes), a plain-loop reference on feature-map shapes
of real nets, numeric gradients, Caffe's refusal of 5 axes, ONNX."""
import math

import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity, assert_refused_like_caffe

CASES = ["mvn", "mvn_mean_only", "mvn_across", "mvn_2d", "mvn_3d"]


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    compare_recorded(case)


def _mvn(param=""):
    return layer_from_text(f'name: "m" type: "MVN" mvn_param {{ {param} }}')


def loop_mvn(x, across, normalize, eps):
    """Row by row, element by element, with math.fsum."""
    n, c = x.shape[0], x.shape[1]
    rows = x.reshape(n, -1) if across else x.reshape(n * c, -1)
    out = np.zeros_like(rows)
    for r, row in enumerate(rows):
        vals = [float(v) for v in row]
        mean = math.fsum(vals) / len(vals)
        centered = [v - mean for v in vals]
        if normalize:
            std = math.sqrt(math.fsum(d * d for d in centered) / len(vals)) + eps
            centered = [d / std for d in centered]
        out[r] = centered
    return out.reshape(x.shape)


@pytest.mark.parametrize("shape, param", [
    ((2, 8, 14, 14), ""),                                       # VGG-like late feature maps
    ((1, 3, 32, 32), "across_channels: true"),                  # CIFAR-sized image input
    ((2, 16, 7, 7), "normalize_variance: false"),
    ((2, 4, 28, 28), "across_channels: true eps: 0.001"),       # MNIST-sized maps
])
def test_loop_reference(shape, param):
    x = np.random.default_rng(111).uniform(-2, 6, shape)
    layer = _mvn(param)
    bottom, top = setup_layer(layer, [x])
    layer.forward(bottom, top)
    p = layer.layer_param.mvn_param
    want = loop_mvn(x, p.across_channels, p.normalize_variance, float(np.float32(p.eps)))
    np.testing.assert_allclose(top[0].data, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("param", ["", "normalize_variance: false", "across_channels: true",
                                   "across_channels: true normalize_variance: false"])
def test_gradient(param):
    x = np.random.default_rng(112).normal(size=(2, 3, 2, 3))
    check_gradient(_mvn(param), [x], threshold=1e-5)


def test_eps_is_left_out_of_the_backward_like_caffe():
    """With a large eps Caffe's backward is not the exact gradient; ours gives Caffe's."""
    x = np.random.default_rng(113).normal(size=(1, 2, 3, 3))
    layer = _mvn("eps: 0.5")
    with pytest.raises(AssertionError, match="gradient mismatch"):
        check_gradient(layer, [x])


def test_refuses_five_axes_like_caffe(tmp_path):
    ours, theirs = assert_refused_like_caffe("mvn_5axes", tmp_path)
    assert "'m' (MVN)" in ours and "4 axes" in ours and "> 4 axes" in theirs


@pytest.mark.parametrize("case", ["mvn", "mvn_mean_only", "mvn_across", "mvn_2d"])
def test_onnx(case, tmp_path):
    assert_onnx_parity(case, ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "MVN" in layer_types()
