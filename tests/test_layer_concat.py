"""Concat: Caffe's numbers, numeric gradients, shape errors."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_case


@pytest.mark.parametrize("case", ["concat_axis1", "concat_axis2"])
def test_matches_caffe(case):
    checked = compare_case(case)
    assert any(k.startswith("indiff/") for k in checked)


@pytest.mark.parametrize("shapes, param", [
    ([(2, 3, 2), (2, 1, 2), (2, 2, 2)], ""),
    ([(2, 3, 2), (2, 3, 1)], "axis: -1"),
    ([(1, 2, 3), (2, 2, 3)], "axis: 0"),
    ([(2, 2, 3), (2, 2, 1)], "concat_dim: 2"),
])
def test_gradient(shapes, param):
    rng = np.random.default_rng(1)
    layer = layer_from_text(f'name: "c" type: "Concat" concat_param {{ {param} }}')
    check_gradient(layer, [rng.normal(size=s) for s in shapes])


def _setup(text, shapes):
    _, top = setup_layer(layer_from_text(text), [np.zeros(s) for s in shapes])
    return top[0].shape


def test_shape_mismatch_names_layer_and_shapes():
    with pytest.raises(LayerSetupError) as e:
        _setup('name: "cat" type: "Concat"', [(2, 3, 4), (2, 5, 3)])
    msg = str(e.value)
    assert "'cat'" in msg and "2 3 4 (24)" in msg and "2 5 3 (30)" in msg


def test_axis_count_mismatch_and_bad_axis():
    with pytest.raises(LayerSetupError, match="'cat'"):
        _setup('name: "cat" type: "Concat"', [(2, 3, 4), (2, 3)])
    with pytest.raises(LayerSetupError, match="out of range"):
        _setup('name: "cat" type: "Concat" concat_param { axis: 3 }', [(2, 3, 4), (2, 3, 4)])
    with pytest.raises(LayerSetupError, match="not both"):
        _setup('name: "cat" type: "Concat" concat_param { axis: 1 concat_dim: 1 }', [(2, 3)])


def test_shape():
    assert _setup('name: "c" type: "Concat" concat_param { axis: -2 }',
                  [(2, 3, 4), (2, 1, 4)]) == (2, 4, 4)
