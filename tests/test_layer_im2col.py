"""Im2col: Caffe's numbers (2-D with pad and stride, rectangular dilated kernel, Caffe's N-d
code on 1, 2 and 3 spatial axes), a plain-loop reference on first-layer and 3x3 shapes of real
nets, numeric gradients, Caffe's refusals, ONNX (a grouped one-hot convolution)."""
import itertools

import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import (assert_onnx_parity, assert_refused_like_caffe, caffe_refusals,
                             recorded_net)

CASES = ["im2col", "im2col_rect_dilated", "im2col_nd_forced", "im2col_3d", "im2col_1d"]


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    compare_recorded(case)


def _im2col(param):
    return layer_from_text(f'name: "i" type: "Im2col" convolution_param {{ {param} }}')


def loop_im2col(x, k, s, p, d):
    """Caffe's column layout, element by element (2 spatial axes, channel axis 1)."""
    n, c, h, w = x.shape
    oh = (h + 2 * p[0] - (d[0] * (k[0] - 1) + 1)) // s[0] + 1
    ow = (w + 2 * p[1] - (d[1] * (k[1] - 1) + 1)) // s[1] + 1
    out = np.zeros((n, c * k[0] * k[1], oh, ow))
    for b, ch, ki, kj, i, j in itertools.product(range(n), range(c), range(k[0]), range(k[1]),
                                                 range(oh), range(ow)):
        r = i * s[0] - p[0] + ki * d[0]
        q = j * s[1] - p[1] + kj * d[1]
        if 0 <= r < h and 0 <= q < w:
            out[b, (ch * k[0] + ki) * k[1] + kj, i, j] = x[b, ch, r, q]
    return out


REAL = [  # (input shape, kernel, stride, pad, dilation)
    ((1, 3, 35, 35), (11, 11), (4, 4), (0, 0), (1, 1)),   # AlexNet conv1, scaled down
    ((1, 3, 24, 24), (7, 7), (2, 2), (3, 3), (1, 1)),     # GoogLeNet / ResNet conv1
    ((2, 8, 14, 14), (3, 3), (1, 1), (1, 1), (1, 1)),     # VGG 3x3 pad 1
    ((1, 4, 12, 12), (3, 3), (1, 1), (2, 2), (2, 2)),     # DeepLab atrous 3x3
    ((2, 5, 9, 8), (5, 5), (1, 1), (0, 0), (1, 1)),       # LeNet 5x5
]


@pytest.mark.parametrize("shape, k, s, p, d", REAL)
def test_loop_reference(shape, k, s, p, d):
    rng = np.random.default_rng(141)
    x = rng.normal(size=shape)
    layer = _im2col(f"kernel_h: {k[0]} kernel_w: {k[1]} stride_h: {s[0]} stride_w: {s[1]} "
                    f"pad_h: {p[0]} pad_w: {p[1]} dilation: {d[0]} dilation: {d[1]}")
    bottom, top = setup_layer(layer, [x])
    layer.forward(bottom, top)
    want = loop_im2col(x, k, s, p, d)
    np.testing.assert_array_equal(top[0].data, want)
    dy = rng.normal(size=want.shape)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    probe = rng.normal(size=shape)  # col2im is im2col's adjoint: <im2col(p), dy> == <p, dx>
    np.testing.assert_allclose(np.sum(loop_im2col(probe, k, s, p, d) * dy),
                               np.sum(probe * bottom[0].diff), rtol=1e-10)


@pytest.mark.parametrize("shape, param", [
    ((1, 2, 4, 5), "kernel_size: 3 pad: 1 stride: 2"),
    ((2, 1, 5, 4, 3), "kernel_size: 2 pad: 1 stride: 1 stride: 2 stride: 1"),
    ((1, 2, 3, 7), "kernel_size: 2 axis: 2"),
])
def test_gradient(shape, param):
    x = np.random.default_rng(142).normal(size=shape)
    check_gradient(_im2col(param), [x])


@pytest.mark.parametrize("name", caffe_refusals("im2col_"))
def test_refuses_what_caffe_refuses(name, tmp_path):
    ours, theirs = assert_refused_like_caffe(name, tmp_path)
    assert "'i' (Im2col)" in ours
    key = {"im2col_no_kernel": "kernel_size", "im2col_kernel_count": "once per spatial",
           "im2col_kernel_hw_and_size": "not both"}[name]
    assert key in ours and key in theirs


@pytest.mark.parametrize("case", ["im2col", "im2col_rect_dilated", "im2col_3d", "im2col_1d"])
def test_onnx(case, tmp_path):
    model = assert_onnx_parity(case, ["y"], tmp_path)
    assert "Conv" in [n.op_type for n in model.graph.node]


def test_onnx_refuses_other_axes(tmp_path):
    from caffe_compat.onnx_export import ExportError, export_onnx

    net, _ = recorded_net("im2col")
    net.layers[-1].axis = 2  # as built from "axis: 2" on a 5-axis bottom
    with pytest.raises(ExportError, match="'i' \\(Im2col\\)"):
        export_onnx(net, str(tmp_path / "x.onnx"), outputs=["y"])


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Im2col" in layer_types()
