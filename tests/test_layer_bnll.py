"""BNLL: Caffe's numbers (including inputs past the backward's threshold 50), numeric
gradients, ONNX (Softplus)."""
import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity


@pytest.mark.parametrize("case", ["bnll", "bnll_small"])
def test_matches_caffe(case):
    compare_recorded(case)


def test_gradient():
    x = np.random.default_rng(61).normal(0, 3, (2, 3, 4))
    check_gradient(layer_from_text('name: "b" type: "BNLL"'), [x])


def test_values_no_overflow():
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    layer = layer_from_text('name: "b" type: "BNLL"')
    bottom, top = setup_layer(layer, [x])
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, np.logaddexp(0, x), rtol=1e-12)
    top[0].diff[...] = 1
    layer.backward(top, [True], bottom)
    # exp(min(x, 50)) / (1 + exp(min(x, 50))): the threshold caps the slope just below 1
    np.testing.assert_allclose(bottom[0].diff, [0, 1 / (1 + np.exp(30)), 0.5,
                                                1 / (1 + np.exp(-30)), 1 / (1 + np.exp(-50))])


def test_onnx(tmp_path):
    model = assert_onnx_parity("bnll_small", ["y"], tmp_path)
    assert [n.op_type for n in model.graph.node][0] == "Softplus"


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "BNLL" in layer_types()
