"""Threshold: Caffe's numbers (inputs equal to the threshold give 0), the backward Caffe
does not have (a clear error, as Caffe aborts), ONNX."""
import numpy as np
import pytest

from gradcheck import layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity, assert_refused_like_caffe


@pytest.mark.parametrize("case", ["threshold", "threshold_default"])
def test_matches_caffe(case):
    compare_recorded(case, backward=False)


def test_values():
    layer = layer_from_text('name: "t" type: "Threshold" threshold_param { threshold: -0.5 }')
    x = np.array([-1.0, -0.5, -0.25, 0.0, 2.0])
    bottom, top = setup_layer(layer, [x])
    layer.forward(bottom, top)
    np.testing.assert_array_equal(top[0].data, [0, 0, 1, 1, 1])


def test_backward_refused_like_caffe(tmp_path):
    ours, theirs = assert_refused_like_caffe("threshold_backward", tmp_path)
    assert "'t' (Threshold)" in ours and "no backward" in ours and theirs == "Not Implemented Yet"


@pytest.mark.parametrize("case", ["threshold", "threshold_default"])
def test_onnx(case, tmp_path):
    assert_onnx_parity(case, ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Threshold" in layer_types()
