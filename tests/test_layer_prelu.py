"""PReLU: Caffe's numbers (default filler 0.25, per channel, channel_shared, 2-axis bottom,
in place), numeric gradients of input and slopes, Caffe's refusals, ONNX."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from gradcheck import check_gradient, layer_from_text, make_blobs, setup_layer
from layer_case import compare_recorded, load_recorded
from recorded_layers import assert_onnx_parity, assert_refused_like_caffe

CASES = ["prelu_default_filler", "prelu", "prelu_shared", "prelu_2d", "prelu_inplace"]


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    compare_recorded(case)


def _prelu(param=""):
    return layer_from_text(f'name: "p" type: "PReLU" prelu_param {{ {param} }}')


def test_default_filler_is_caffes():
    """Caffe filled the slopes of prelu_default_filler itself: 0.25 per channel."""
    _, arrays = load_recorded("prelu_default_filler")
    layer = _prelu()
    setup_layer(layer, [arrays["in/x"]])
    assert layer.blobs[0].shape == arrays["param/p/0"].shape == (3,)
    np.testing.assert_array_equal(layer.blobs[0].data, arrays["param/p/0"])
    shared = _prelu("channel_shared: true")
    setup_layer(shared, [arrays["in/x"]])
    assert shared.blobs[0].shape == () and shared.blobs[0].data == np.float32(0.25)


@pytest.mark.parametrize("shape", [(2, 3, 4, 2), (3, 4), (2, 2, 5)])
@pytest.mark.parametrize("param", ["", "channel_shared: true"])
def test_gradient(shape, param):
    x = np.random.default_rng(41).normal(size=shape)
    layer = _prelu(param + ' filler { type: "uniform" min: -0.5 max: 0.8 }')
    check_gradient(layer, [x], kink=0.0, kink_range=1e-3)


def test_in_place_equals_out_of_place():
    rng = np.random.default_rng(42)
    x, dy = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    ref = _prelu('filler { type: "uniform" min: 0 max: 1 }')
    bottom, top = setup_layer(ref, [x], float64_params=True)
    inplace = _prelu()
    b = make_blobs([x])
    inplace.setup(b, b)
    inplace.blobs[0].data = ref.blobs[0].data.copy()
    inplace.blobs[0].diff = np.zeros_like(inplace.blobs[0].data)
    inplace.reshape(b, b)
    ref.forward(bottom, top)
    inplace.forward(b, b)
    top[0].diff[...] = dy
    b[0].diff[...] = dy
    ref.backward(top, [True], bottom)
    inplace.backward(b, [True], b)
    np.testing.assert_allclose(b[0].data, top[0].data, rtol=1e-12)
    np.testing.assert_allclose(b[0].diff, bottom[0].diff, rtol=1e-12)
    np.testing.assert_allclose(inplace.blobs[0].diff, ref.blobs[0].diff, rtol=1e-12)


def test_wrong_slope_count_refused():
    layer = _prelu()
    bottom, top = [Blob((2, 3, 4))], [Blob()]
    layer.blobs = [Blob((4,))]
    with pytest.raises(Exception, match=r"'p' \(PReLU\).*inconsistent"):
        layer.setup(bottom, top)


def test_refuses_one_axis_like_caffe(tmp_path):
    ours, theirs = assert_refused_like_caffe("prelu_1axis", tmp_path)
    assert "'p' (PReLU)" in ours and "axes" in ours and ">=2" in theirs


@pytest.mark.parametrize("case", ["prelu", "prelu_shared", "prelu_2d"])
def test_onnx(case, tmp_path):
    model = assert_onnx_parity(case, ["y"], tmp_path)
    assert "PRelu" in [n.op_type for n in model.graph.node]


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "PReLU" in layer_types()
