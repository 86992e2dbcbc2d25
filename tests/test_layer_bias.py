"""Bias: forward values, gradients with a learned bias and a second-bottom bias, errors."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_layer


def _bias(param="", name="b"):
    return layer_from_text(f'name: "{name}" type: "Bias" bias_param {{ {param} }}')


def test_defaults_and_forward():
    rng = np.random.default_rng(30)
    x = rng.normal(size=(2, 3, 4))
    layer = _bias()
    bottom, top = setup_layer(layer, [x])
    assert [p.shape for p in layer.blobs] == [(3,)]
    np.testing.assert_array_equal(layer.blobs[0].data, 0)  # default filler: constant 0
    layer.blobs[0].data[...] = [1.0, -2.0, 3.0]
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, x + np.array([1.0, -2.0, 3.0])[None, :, None])
    second = _bias()
    b2, t2 = setup_layer(second, [x, np.arange(12.0).reshape(3, 4)])
    assert second.blobs == []
    second.forward(b2, t2)
    np.testing.assert_allclose(t2[0].data, x + np.arange(12.0).reshape(1, 3, 4))


@pytest.mark.parametrize("shape, param", [
    ((2, 3, 2), ""),
    ((2, 3, 2, 2), "axis: 2 num_axes: 2"),
    ((3, 4), "num_axes: 0"),
    ((2, 3, 2), "axis: 0 num_axes: -1"),
])
def test_gradient_learned(shape, param):
    layer = _bias(f'{param} filler {{ type: "gaussian" std: 1 }}')
    check_gradient(layer, [np.random.default_rng(31).normal(size=shape)])


@pytest.mark.parametrize("shape, bias_shape, param", [
    ((2, 3, 2), (3,), ""),
    ((2, 3, 2), (3, 2), ""),
    ((2, 3, 4), (2, 3), "axis: 0"),
    ((2, 3), (), ""),
])
def test_gradient_second_bottom(shape, bias_shape, param):
    rng = np.random.default_rng(32)
    check_gradient(_bias(param), [rng.normal(size=shape), rng.normal(size=bias_shape)])


def test_shape_errors():
    with pytest.raises(LayerSetupError) as e:
        setup_layer(_bias(name="add_b"), [np.ones((2, 3, 4)), np.ones((2, 4))])
    assert "'add_b'" in str(e.value) and "2 3 4 (24)" in str(e.value) and "2 4 (8)" in str(e.value)
    with pytest.raises(LayerSetupError, match="'add_b'.*past"):
        setup_layer(_bias("axis: 1 num_axes: 3", name="add_b"), [np.ones((2, 3, 4))])
