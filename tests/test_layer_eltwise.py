"""Eltwise: Caffe's numbers (SUM with coeff, PROD, MAX with ties), gradients, errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, make_blobs, setup_layer
from layer_case import compare_case


@pytest.mark.parametrize("case", ["eltwise_sum_coeff", "eltwise_prod", "eltwise_max"])
def test_matches_caffe(case):
    checked = compare_case(case)
    assert sum(k.startswith("indiff/") for k in checked) >= 2


def test_max_ties_go_to_bottom1_as_in_caffe():
    # Caffe compares bottom 0 and 1 with '>': on a tie, bottom 1 wins the gradient; a
    # later bottom must be strictly larger to win.
    layer = layer_from_text('name: "m" type: "Eltwise" eltwise_param { operation: MAX }')
    bottom = make_blobs([np.array([1.0, 2.0, 5.0]), np.array([1.0, 3.0, 0.0]),
                         np.array([1.0, 3.0, 5.0])])
    top = [Blob((), dtype=np.float64)]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    np.testing.assert_array_equal(top[0].data, [1.0, 3.0, 5.0])
    top[0].diff[...] = [10.0, 20.0, 30.0]
    layer.backward(top, [True] * 3, bottom)
    np.testing.assert_array_equal(bottom[0].diff, [0, 0, 30])
    np.testing.assert_array_equal(bottom[1].diff, [10, 20, 0])
    np.testing.assert_array_equal(bottom[2].diff, [0, 0, 0])


@pytest.mark.parametrize("param", [
    "", "operation: SUM coeff: 0.5 coeff: -2 coeff: 3", "operation: PROD",
    "operation: PROD stable_prod_grad: false", "operation: MAX",
])
@pytest.mark.parametrize("shape", [(2, 3), (2, 1, 3, 2)])
def test_gradient(param, shape):
    rng = np.random.default_rng(3)
    layer = layer_from_text(f'name: "e" type: "Eltwise" eltwise_param {{ {param} }}')
    # Inputs away from 0 (PROD without stable grad divides) and without near-ties (MAX).
    arrays = [rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1, 1], size=shape)
              for _ in range(3)]
    arrays[1] += 0.1 * (np.abs(arrays[1] - arrays[0]) < 0.05)
    check_gradient(layer, arrays)


def test_two_bottoms_gradient():
    rng = np.random.default_rng(4)
    for op in ("SUM", "PROD", "MAX"):
        layer = layer_from_text(f'name: "e" type: "Eltwise" eltwise_param {{ operation: {op} }}')
        check_gradient(layer, [rng.normal(size=(3, 4)), rng.normal(size=(3, 4))])


def _setup(text, shapes):
    setup_layer(layer_from_text(text), [np.ones(s) for s in shapes])


def test_errors():
    with pytest.raises(LayerSetupError) as e:
        _setup('name: "add" type: "Eltwise"', [(2, 3), (3, 2)])
    assert "'add'" in str(e.value) and "2 3 (6)" in str(e.value) and "3 2 (6)" in str(e.value)
    with pytest.raises(LayerSetupError, match="one coeff per bottom"):
        _setup('name: "add" type: "Eltwise" eltwise_param { coeff: 1 }', [(2,), (2,)])
    with pytest.raises(LayerSetupError, match="only allowed with operation SUM"):
        _setup('name: "p" type: "Eltwise" eltwise_param { operation: PROD coeff: 1 coeff: 2 }',
               [(2,), (2,)])
