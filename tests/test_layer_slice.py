"""Slice: Caffe's numbers (slice_points, slice_equal, silence), numeric gradients, errors."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from caffe_compat.layer_types import layer_types
from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_case


@pytest.mark.parametrize("case", ["slice_points", "slice_equal"])
def test_matches_caffe(case):
    checked = compare_case(case)
    assert "indiff/x" in checked


def test_silence_case_slice_part():
    # Silence belongs to another module; if it is not there yet, its bottoms are left out
    # (their diffs stay 0, which is what Silence gives) and only the Slice part is checked.
    skip = () if "Silence" in layer_types() else ("Silence",)
    checked = compare_case("silence", skip_types=skip)
    assert {"out/a", "out/b", "indiff/x"} <= set(checked)


@pytest.mark.parametrize("shape, param, num_top", [
    ((2, 6, 2), "", 2),
    ((2, 6, 2), "slice_point: 1 slice_point: 4", 3),
    ((3, 2, 4), "axis: -1 slice_point: 3", 2),
    ((4, 3), "axis: 0", 4),
    ((2, 3, 4), "slice_dim: 2 slice_point: 2", 2),
])
def test_gradient(shape, param, num_top):
    rng = np.random.default_rng(2)
    layer = layer_from_text(f'name: "s" type: "Slice" slice_param {{ {param} }}')
    check_gradient(layer, [rng.normal(size=shape)], num_top=num_top)


def _setup(param, shape, num_top):
    layer = layer_from_text(f'name: "cut" type: "Slice" slice_param {{ {param} }}')
    _, top = setup_layer(layer, [np.zeros(shape)], num_top)
    return [t.shape for t in top]


def test_shapes():
    assert _setup("slice_point: 1 slice_point: 3", (2, 5), 3) == [(2, 1), (2, 2), (2, 2)]
    assert _setup("axis: 0", (4, 3), 2) == [(2, 3), (2, 3)]


@pytest.mark.parametrize("param, shape, num_top, pattern", [
    ("", (2, 5), 2, "evenly divide"),
    ("slice_point: 2", (2, 5), 3, "slice_point"),
    ("slice_point: 3 slice_point: 2", (2, 5), 3, "increasing"),
    ("slice_point: 0", (2, 5), 2, "increasing"),
    ("slice_point: 5", (2, 5), 2, "not inside"),
    ("axis: 2", (2, 5), 2, "out of range"),
    ("axis: 1 slice_dim: 1", (2, 4), 2, "not both"),
])
def test_errors(param, shape, num_top, pattern):
    with pytest.raises(LayerSetupError, match=pattern) as e:
        _setup(param, shape, num_top)
    assert "'cut'" in str(e.value)
