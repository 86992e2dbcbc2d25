"""Flatten: Caffe's numbers, gradients, shapes and errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, make_blobs
from layer_case import compare_case


@pytest.mark.parametrize("case", ["flatten_default", "flatten_axis"])
def test_matches_caffe(case):
    assert "indiff/x" in compare_case(case)


def _shape(param, shape):
    layer = layer_from_text(f'name: "f" type: "Flatten" flatten_param {{ {param} }}')
    bottom = make_blobs([np.zeros(shape)])
    top = [Blob(())]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    return top[0].shape


@pytest.mark.parametrize("param, shape, want", [
    ("", (2, 3, 4, 5), (2, 60)),
    ("axis: 0", (2, 3, 4), (24,)),
    ("axis: 1 end_axis: 2", (2, 3, 4, 5), (2, 12, 5)),
    ("axis: -2", (2, 3, 4, 5), (2, 3, 20)),
    ("axis: 2 end_axis: -2", (2, 3, 4, 5), (2, 3, 4, 5)),
])
def test_shapes(param, shape, want):
    assert _shape(param, shape) == want


@pytest.mark.parametrize("param, shape", [("", (2, 3, 2)), ("axis: 0 end_axis: 1", (2, 3, 2))])
def test_gradient(param, shape):
    layer = layer_from_text(f'name: "f" type: "Flatten" flatten_param {{ {param} }}')
    check_gradient(layer, [np.random.default_rng(5).normal(size=shape)])


def test_errors():
    with pytest.raises(LayerSetupError, match="'f'.*out of range"):
        _shape("axis: 4", (2, 3, 4))
    layer = layer_from_text('name: "f" type: "Flatten"')
    b = make_blobs([np.zeros((2, 3))])
    with pytest.raises(LayerSetupError, match="in-place"):
        layer.reshape(b, b)
