"""Clip: Caffe's numbers (inputs exactly at min and max pass the gradient), numeric
gradients, the required fields, ONNX."""
import numpy as np

from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity, assert_refused_like_caffe


def test_matches_caffe():
    compare_recorded("clip")


def test_gradient():
    x = np.random.default_rng(71).uniform(-2, 2, (3, 4, 5))
    layer = layer_from_text('name: "c" type: "Clip" clip_param { min: -0.6 max: 1.1 }')
    check_gradient(layer, [x], kink=0.0, kink_range=-1)


def test_bounds_included():
    layer = layer_from_text('name: "c" type: "Clip" clip_param { min: -1 max: 1 }')
    bottom, top = setup_layer(layer, [np.array([-2.0, -1.0, 0.5, 1.0, 3.0])])
    layer.forward(bottom, top)
    np.testing.assert_array_equal(top[0].data, [-1, -1, 0.5, 1, 1])
    top[0].diff[...] = 2
    layer.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, [0, 2, 2, 2, 0])


def test_required_fields(tmp_path):
    ours, theirs = assert_refused_like_caffe("clip_no_max", tmp_path)
    assert "max" in ours and "parse" in theirs


def test_onnx(tmp_path):
    assert_onnx_parity("clip", ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Clip" in layer_types()
