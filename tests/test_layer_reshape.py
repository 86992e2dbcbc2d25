"""Reshape: Caffe's numbers, the 0 / -1 / axis / num_axes rules, gradients, errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, make_blobs
from layer_case import compare_case


@pytest.mark.parametrize("case", ["reshape", "reshape_axis"])
def test_matches_caffe(case):
    assert "indiff/x" in compare_case(case)


def _layer(spec):
    return layer_from_text(f'name: "rs" type: "Reshape" reshape_param {{ {spec} }}')


def _shape(spec, shape):
    layer = _layer(spec)
    bottom = make_blobs([np.arange(np.prod(shape), dtype=float).reshape(shape)])
    top = [Blob((), dtype=np.float64)]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    np.testing.assert_array_equal(top[0].data.ravel(), bottom[0].data.ravel())
    return top[0].shape


# Examples of caffe.proto's ReshapeParameter comments and a few more.
@pytest.mark.parametrize("spec, shape, want", [
    ("shape { dim: 0 dim: -1 }", (2, 3, 4), (2, 12)),
    ("shape { dim: 0 dim: 2 dim: 3 dim: -1 }", (2, 24), (2, 2, 3, 4)),
    ("shape { dim: 2 dim: 2 } axis: 1 num_axes: 1", (2, 4, 3), (2, 2, 2, 3)),
    ("shape { dim: 1 } axis: 0 num_axes: 0", (2, 3), (1, 2, 3)),
    ("shape { dim: 1 } axis: -1 num_axes: 0", (2, 3), (2, 3, 1)),
    ("shape { dim: 1 } axis: 1 num_axes: 0", (2, 3), (2, 1, 3)),
    ("shape { dim: -1 } axis: 1", (2, 3, 4), (2, 12)),
    ("shape { dim: 0 dim: 0 dim: 0 }", (2, 3, 4), (2, 3, 4)),
    ("shape { dim: 6 dim: -1 }", (2, 3, 4), (6, 4)),
])
def test_shapes(spec, shape, want):
    assert _shape(spec, shape) == want


@pytest.mark.parametrize("spec, shape", [
    ("shape { dim: 0 dim: -1 dim: 2 }", (2, 3, 4)),
    ("shape { dim: 3 dim: -1 } axis: 1 num_axes: 2", (2, 3, 2, 2)),
])
def test_gradient(spec, shape):
    check_gradient(_layer(spec), [np.random.default_rng(6).normal(size=shape)])


@pytest.mark.parametrize("spec, shape, pattern", [
    ("shape { dim: -1 dim: -1 }", (2, 3), "several -1"),
    ("shape { dim: 5 dim: -1 }", (2, 3), "divisible"),
    ("shape { dim: 5 }", (2, 3), "must match input count"),
    ("shape { dim: -2 dim: 3 }", (2, 3), "negative dimension"),
    ("shape { dim: 0 dim: 0 dim: 0 }", (2, 3), "no corresponding bottom axis"),
    ("shape { dim: 6 } axis: 3", (2, 3), "out of range"),
    ("shape { dim: 6 } axis: 0 num_axes: 3", (2, 3), "past the bottom"),
    ("shape { dim: 6 } num_axes: -2", (2, 3), "num_axes"),
])
def test_errors(spec, shape, pattern):
    with pytest.raises(LayerSetupError, match=pattern) as e:
        _shape(spec, shape)
    assert "'rs'" in str(e.value)
