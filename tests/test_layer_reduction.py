"""Reduction: Caffe's numbers (SUM to a scalar, ASUM with coeff and zeros, SUMSQ on the last
axis, MEAN with a negative coeff), numeric gradients of every operation, ONNX."""
import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity

CASES = ["reduction_sum", "reduction_asum", "reduction_sumsq", "reduction_mean"]


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    compare_recorded(case)


def _reduction(param):
    return layer_from_text(f'name: "r" type: "Reduction" reduction_param {{ {param} }}')


@pytest.mark.parametrize("param", ["", "operation: ASUM axis: 1 coeff: 2", "operation: SUMSQ axis: -1",
                                   "operation: MEAN axis: 2 coeff: -0.5", "operation: SUM axis: 3"])
def test_gradient(param):
    x = np.random.default_rng(101).normal(size=(2, 3, 2, 2))
    check_gradient(_reduction(param), [x], kink=0.0, kink_range=1e-3)


def test_shapes_and_values():
    x = np.random.default_rng(102).normal(size=(2, 3, 4))
    for param, axis, want in [("", 0, np.sum(x)),
                              ("operation: MEAN axis: 1", 1, x.reshape(2, -1).mean(1)),
                              ("operation: ASUM axis: -1", 2, np.abs(x).sum(-1))]:
        layer = _reduction(param)
        bottom, top = setup_layer(layer, [x])
        layer.forward(bottom, top)
        assert top[0].shape == x.shape[:axis]
        np.testing.assert_allclose(top[0].data, want, rtol=1e-12)


@pytest.mark.parametrize("case", ["reduction_asum", "reduction_sumsq", "reduction_mean"])
def test_onnx(case, tmp_path):
    assert_onnx_parity(case, ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Reduction" in layer_types()
