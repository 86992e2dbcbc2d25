"""Convolution: Caffe's reference cases, float64 gradient checks, and its setup errors."""
import numpy as np
import pytest

from caffe_compat.layer_types.convolution import ConvolutionLayer
from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_shapes
from layer_case import case_names, compare_case

# Both column layouts: batch innermost for every width, and for none.
LAYOUTS = [10**6, 0]


@pytest.fixture(params=LAYOUTS, ids=["batch_inner", "batch_outer"], autouse=True)
def layout(request, monkeypatch):
    monkeypatch.setattr(ConvolutionLayer, "BATCH_INNER_BELOW_WIDTH", request.param)


CASES = ["conv_pad_stride", "conv_rect_kernel", "conv_group2", "conv_dilation2", "conv_nobias"]
FILLERS = 'weight_filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 }'


def conv(params, name="conv"):
    return layer_from_text(
        f'name: "{name}" type: "Convolution" convolution_param {{ {params} }}')


def setup(layer, *shapes, num_top=None):
    return setup_shapes(layer, *shapes, num_top=num_top or len(shapes))


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    checked = compare_case(case)
    assert {"out/y", "indiff/x", "paramdiff/conv/0"} <= set(checked)


def test_every_conv_case_is_listed():
    assert case_names("conv_") == sorted(CASES)


GRID = [
    ("num_output: 4 kernel_size: 3 pad: 1 stride: 2", (2, 3, 6, 7)),
    ("num_output: 3 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 2 stride_w: 1", (2, 2, 5, 6)),
    ("num_output: 6 kernel_size: 3 group: 2", (2, 4, 5, 5)),
    ("num_output: 4 kernel_size: 3 group: 2 pad: 1 stride: 2 dilation: 2", (1, 4, 7, 6)),
    ("num_output: 3 kernel_size: 3 pad: 2 dilation: 2", (2, 2, 5, 5)),
    ("num_output: 2 kernel_size: 1 bias_term: false", (2, 2, 6, 6)),  # 1x1: no im2col
    ("num_output: 4 kernel_size: 1 group: 2", (3, 4, 5, 5)),  # 1x1, grouped, with bias
    ("num_output: 2 kernel_size: 1 stride: 2", (2, 3, 5, 5)),  # 1x1 strided: im2col again
    ("num_output: 3 kernel_size: 2 kernel_size: 3 pad: 1 pad: 0 stride: 1 stride: 2", (2, 2, 4, 7)),
]


@pytest.mark.parametrize("params,shape", GRID)
def test_gradient(params, shape):
    layer = conv(f"{params} {FILLERS}")
    x = np.random.default_rng(1).normal(size=shape)
    check_gradient(layer, [x])


def test_gradient_axis2_and_two_bottoms():
    layer = conv(f"num_output: 2 kernel_size: 2 axis: 2 {FILLERS}")
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 2, 3, 4, 4)), rng.normal(size=(2, 2, 3, 4, 4))
    check_gradient(layer, [a, b], num_top=2)


def test_output_shape_and_param_shapes():
    layer = conv("num_output: 6 kernel_size: 3 group: 2 pad: 1 stride: 2 dilation: 2")
    _, top = setup(layer, (2, 4, 9, 8))
    # (9 + 2 - 5) // 2 + 1 = 4, (8 + 2 - 5) // 2 + 1 = 3
    assert top[0].shape == (2, 6, 4, 3)
    assert [b.shape for b in layer.blobs] == [(6, 2, 3, 3), (6,)]
    assert not layer.blobs[0].data.any()  # default weight_filler: constant 0


def test_two_bottoms_share_weights():
    layer = conv(f"num_output: 3 kernel_size: 3 {FILLERS}")
    rng = np.random.default_rng(3)
    bottom, top = setup(layer, (1, 2, 5, 5), (1, 2, 5, 5))
    bottom[0].data[...] = rng.normal(size=(1, 2, 5, 5))
    bottom[1].data[...] = bottom[0].data[:, :, ::-1]
    layer.forward(bottom, top)
    w, b = layer.blobs[0].data, layer.blobs[1].data
    # Direct sum for one output position of each top.
    for t, x in zip(top, bottom):
        want = (w * x.data[0, :, 1:4, 2:5][None]).sum(axis=(1, 2, 3)) + b
        np.testing.assert_allclose(t.data[0, :, 1, 2], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("params,shape,pattern", [
    ("num_output: 4 kernel_size: 3 group: 2", (1, 3, 5, 5), "multiple of group"),
    ("num_output: 3 kernel_size: 3 group: 2", (1, 4, 5, 5), "num_output \\(3\\) must be a multiple"),
    ("num_output: 2 kernel_size: 5", (1, 1, 3, 3), "larger than the padded input"),
    ("num_output: 2 kernel_size: 3 dilation: 3", (1, 1, 6, 6), "larger than the padded input"),
    ("num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3", (1, 1, 5, 5), "not both"),
    ("num_output: 2 kernel_h: 3", (1, 1, 5, 5), "both kernel_h and kernel_w"),
    ("num_output: 2 kernel_size: 1 kernel_size: 2 kernel_size: 3", (1, 1, 5, 5), "once per spatial"),
    ("num_output: 2", (1, 1, 5, 5), "kernel_size"),
    ("num_output: 0 kernel_size: 3", (1, 1, 5, 5), "num_output must be > 0"),
    ("num_output: 2 kernel_size: 3 stride: 0", (1, 1, 5, 5), "stride dimensions must be nonzero"),
    ("num_output: 2 kernel_size: 3", (1, 1, 5), "only 2-D convolution"),
    ("num_output: 2 kernel_size: 3 axis: 5", (1, 1, 5, 5), "axis 5 out of range"),
])
def test_setup_errors(params, shape, pattern):
    with pytest.raises(LayerSetupError, match=pattern) as info:
        setup(conv(params, name="bad_conv"), shape)
    assert "bad_conv" in str(info.value)


def test_channel_change_is_an_error():
    layer = conv("num_output: 2 kernel_size: 3", name="c1")
    bottom, top = setup(layer, (1, 2, 5, 5))
    bottom[0].reshape(1, 3, 5, 5)
    with pytest.raises(LayerSetupError, match=r"c1.*2 channels.*1 3 5 5"):
        layer.reshape(bottom, top)


@pytest.mark.parametrize("group", [1, 3])
def test_pointwise_forward_equals_the_formula(group):
    """1x1 convolutions skip im2col: y[n, o] = b[o] + sum over its group's c of W[o, c] x[n, c]."""
    from gradcheck import make_blobs
    from caffe_compat.blob import Blob

    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6, 5, 3)).astype(np.float32)
    layer = conv(f"num_output: 9 kernel_size: 1 group: {group} {FILLERS}")
    bottom, top = make_blobs([x]), [Blob(())]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    w, b = layer.blobs[0].data[:, :, 0, 0].astype(np.float64), layer.blobs[1].data.astype(np.float64)
    og, cg = 9 // group, 6 // group
    want = np.concatenate([np.einsum("oc,nchw->nohw", w[g * og:(g + 1) * og], x[:, g * cg:(g + 1) * cg])
                           for g in range(group)], axis=1) + b[None, :, None, None]
    np.testing.assert_allclose(top[0].data, want, rtol=1e-5, atol=1e-5)
    assert not [k for k in layer.ws._arrays if k.startswith(("col", "pad"))], "1x1 made columns"
