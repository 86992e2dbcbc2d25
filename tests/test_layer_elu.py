"""ELU: Caffe's numbers (default alpha, alpha 0.4, in place), numeric gradients, ONNX."""
import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity


@pytest.mark.parametrize("case", ["elu", "elu_alpha", "elu_inplace"])
def test_matches_caffe(case):
    compare_recorded(case)


@pytest.mark.parametrize("alpha", [1.0, 0.4, 2.5])
def test_gradient(alpha):
    x = np.random.default_rng(31).normal(0, 2, (2, 3, 4))
    layer = layer_from_text(f'name: "e" type: "ELU" elu_param {{ alpha: {alpha} }}')
    check_gradient(layer, [x], kink=0.0, kink_range=1e-3)


def test_default_alpha_and_values():
    layer = layer_from_text('name: "e" type: "ELU"')
    assert layer.layer_param.elu_param.alpha == 1
    from gradcheck import setup_layer

    x = np.array([-3.0, -0.5, 0.0, 0.5, 4.0])
    bottom, top = setup_layer(layer, [x])
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, np.where(x > 0, x, np.exp(x) - 1), rtol=1e-12)


@pytest.mark.parametrize("case", ["elu", "elu_alpha"])
def test_onnx(case, tmp_path):
    model = assert_onnx_parity(case, ["y"], tmp_path)
    assert [n.op_type for n in model.graph.node][0] == "Elu"


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "ELU" in layer_types()
