"""MultinomialLogisticLoss: real Caffe 1.0's loss and gradient (a probability below its
1e-20 threshold included), float64 gradient checks, and its refusals."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_shapes
from real_caffe_layers import compare_case


def layer():
    return layer_from_text('name: "loss" type: "MultinomialLogisticLoss"')


def test_matches_caffe():
    assert {"out/loss", "indiff/p"} <= set(compare_case("multinomial_logistic"))


def test_gradient():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 1, size=(4, 3, 1, 2))
    check_gradient(layer(), [p, np.array([0, 5, 2, 3], np.float64)], check_bottom=[0])


def test_label_shape_and_range_errors():
    with pytest.raises(LayerSetupError, match="channels, height and width 1"):
        setup_shapes(layer(), (4, 3), (4, 2))
    with pytest.raises(LayerSetupError, match="same first dimension"):
        setup_shapes(layer(), (4, 3), (3,))
    l = layer()
    bottom, top = setup_shapes(l, (2, 3), (2,))
    bottom[1].data[...] = [0, 3]
    with pytest.raises(LayerSetupError, match="label value 3 out of range"):
        l.forward(bottom, top)
