"""Deconvolution: real Caffe 1.0's numbers, a plain-loop reference on FCN's upsampling
shapes, float64 gradient checks, Caffe's setup errors, and the ONNX export."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from caffe_compat.layer_types.convolution import ConvolutionLayer
from caffe_compat.net import Net
from gradcheck import check_gradient, layer_from_text, setup_shapes
from real_caffe_layers import case_names, compare_case, load_case

CASES = ["deconv_bilinear_fcn", "deconv_group_dilation", "deconv_rect_nobias", "deconv_stride2_pad1"]


@pytest.fixture(params=[10**6, 0], ids=["batch_inner", "batch_outer"], autouse=True)
def layout(request, monkeypatch):
    monkeypatch.setattr(ConvolutionLayer, "BATCH_INNER_BELOW_WIDTH", request.param)


def deconv(params, name="deconv"):
    return layer_from_text(f'name: "{name}" type: "Deconvolution" convolution_param {{ {params} }}')


def test_every_case_is_listed():
    assert case_names("deconv_") == CASES


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    checked = compare_case(case)
    assert {"out/y", "indiff/x", "paramdiff/deconv/0"} <= set(checked)


def test_bilinear_filler_as_caffe():
    """FCN's upsampling layer: the bilinear filler gives Caffe's weights. (Its lr_mult 0
    weights still get a diff in the case: force_backward turns every parameter's
    propagate_down on in Caffe, and test_matches_caffe compares that diff too.)"""
    param, arrays = load_case("deconv_bilinear_fcn")
    net = Net(param, 1)
    np.testing.assert_array_equal(net.params["deconv"][0].data, arrays["param/deconv/0"])


def _window(i, stride, pad, dilation, k, size):
    """Output positions input pixel ``i`` reaches with kernel taps 0..k-1, and which taps land
    inside the output."""
    pos = i * stride - pad + np.arange(k) * dilation
    keep = (pos >= 0) & (pos < size)
    return pos[keep], np.flatnonzero(keep)


def loop_deconv(x, w, b, stride, pad, dilation, group):
    """Caffe's Deconvolution as plain loops over images, channels and input pixels: each
    input value scatters its kernel (times the value) onto the output of its group."""
    n, c, h, wd = x.shape
    cg, og, kh, kw = w.shape[0] // group, w.shape[1], w.shape[2], w.shape[3]
    oh = stride * (h - 1) + dilation * (kh - 1) + 1 - 2 * pad
    ow = stride * (wd - 1) + dilation * (kw - 1) + 1 - 2 * pad
    y = np.zeros((n, og * group, oh, ow))
    for img in range(n):
        for ch in range(c):
            outs = np.arange(og) + (ch // cg) * og
            for i in range(h):
                rows, p = _window(i, stride, pad, dilation, kh, oh)
                for j in range(wd):
                    cols, q = _window(j, stride, pad, dilation, kw, ow)
                    y[img][np.ix_(outs, rows, cols)] += x[img, ch, i, j] * w[ch][np.ix_(range(og), p, q)]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def loop_deconv_backward(x, w, dy, stride, pad, dilation, group):
    """(dx, dw, db) of ``loop_deconv`` by the same loops: each input pixel gathers the top
    diff where it scattered."""
    n, c, h, wd = x.shape
    cg, og, kh, kw = w.shape[0] // group, w.shape[1], w.shape[2], w.shape[3]
    _, _, oh, ow = dy.shape
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for img in range(n):
        for ch in range(c):
            outs = np.arange(og) + (ch // cg) * og
            for i in range(h):
                rows, p = _window(i, stride, pad, dilation, kh, oh)
                for j in range(wd):
                    cols, q = _window(j, stride, pad, dilation, kw, ow)
                    d = dy[img][np.ix_(outs, rows, cols)]
                    dx[img, ch, i, j] = np.sum(d * w[ch][np.ix_(range(og), p, q)])
                    dw[ch][np.ix_(range(og), p, q)] += x[img, ch, i, j] * d
    return dx, dw, dy.sum(axis=(0, 2, 3))


# FCN's upsampling layers (21 classes): score 2x (kernel 4 stride 2), 8x (16, 8) and 32x
# (64, 32), no bias, group 1 as in FCN's nets; and group 21 (one bilinear kernel per class).
FCN = [
    (21, 4, 2, 0, 1, (1, 21, 6, 5)),
    (21, 16, 8, 0, 1, (1, 21, 3, 4)),
    (21, 64, 32, 0, 1, (1, 21, 2, 2)),
    (21, 64, 32, 0, 21, (2, 21, 3, 2)),
    (6, 3, 2, 1, 2, (2, 4, 4, 3)),  # pad, groups, bias
    (4, 3, 1, 2, 1, (1, 2, 5, 4)),  # pad beyond the kernel's reach on the border
]


@pytest.mark.parametrize("num_output,kernel,stride,pad,group,shape", FCN)
def test_matches_plain_loops_on_fcn_shapes(num_output, kernel, stride, pad, group, shape):
    bias = num_output == 6
    layer = deconv(f"num_output: {num_output} kernel_size: {kernel} stride: {stride} pad: {pad} "
                   f"group: {group} bias_term: {str(bias).lower()} "
                   'weight_filler { type: "gaussian" std: 0.1 } bias_filler { type: "gaussian" std: 1 }')
    rng = np.random.default_rng(kernel)
    x = rng.normal(size=shape).astype(np.float32)
    bottom, top = setup_shapes(layer, shape)
    bottom[0].data[...] = x
    layer.forward(bottom, top)
    w = layer.blobs[0].data.astype(np.float64)
    b = layer.blobs[1].data.astype(np.float64) if bias else None
    want = loop_deconv(x.astype(np.float64), w, b, stride, pad, 1, group)
    assert top[0].shape == want.shape
    np.testing.assert_allclose(top[0].data, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    dy = rng.uniform(-1, 1, size=want.shape).astype(np.float32)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    dx, dw, db = loop_deconv_backward(x.astype(np.float64), w, dy.astype(np.float64), stride, pad, 1, group)
    np.testing.assert_allclose(bottom[0].diff, dx, rtol=1e-4, atol=1e-5 * np.abs(dx).max())
    np.testing.assert_allclose(layer.blobs[0].diff, dw, rtol=1e-4, atol=1e-5 * np.abs(dw).max())
    if bias:
        np.testing.assert_allclose(layer.blobs[1].diff, db, rtol=1e-4, atol=1e-5 * np.abs(db).max())


FILLERS = 'weight_filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 }'
GRID = [
    ("num_output: 3 kernel_size: 3 stride: 2 pad: 1", (2, 2, 3, 4)),
    ("num_output: 4 kernel_size: 3 group: 2 dilation: 2", (1, 4, 3, 3)),
    ("num_output: 2 kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 1 pad_h: 1", (2, 3, 3, 3)),
    ("num_output: 2 kernel_size: 1", (2, 3, 2, 3)),
    ("num_output: 4 kernel_size: 4 stride: 2 group: 4 bias_term: false", (1, 4, 2, 2)),
]


@pytest.mark.parametrize("params,shape", GRID)
def test_gradient(params, shape):
    x = np.random.default_rng(1).normal(size=shape)
    check_gradient(deconv(f"{params} {FILLERS}"), [x])


def test_weight_shape_is_caffes():
    layer = deconv("num_output: 6 kernel_size: 3 group: 2")
    setup_shapes(layer, (1, 4, 5, 5))
    assert [b.shape for b in layer.blobs] == [(4, 3, 3, 3), (6,)]


@pytest.mark.parametrize("params,shape,message", [
    ("kernel_size: 3", (1, 2, 4, 4), "num_output must be > 0"),
    ("num_output: 3 kernel_size: 3 group: 2", (1, 4, 4, 4), "num_output (3) must be a multiple of group (2)"),
    ("num_output: 4 kernel_size: 3 group: 2", (1, 3, 4, 4), "must be a multiple of group"),
    ("num_output: 4", (1, 2, 4, 4), "kernel_size"),
    ("num_output: 2 kernel_size: 1 pad: 1", (1, 2, 1, 3), "not positive"),
])
def test_setup_errors(params, shape, message):
    with pytest.raises(LayerSetupError, match="Layer 'deconv' \\(Deconvolution\\)") as err:
        setup_shapes(deconv(params), shape)
    assert message in str(err.value)
