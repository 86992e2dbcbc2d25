"""Swish: Caffe's numbers (default beta, beta 0.7 in place), numeric gradients, ONNX."""
import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity


@pytest.mark.parametrize("case", ["swish", "swish_beta"])
def test_matches_caffe(case):
    compare_recorded(case)


@pytest.mark.parametrize("beta", [1.0, 0.7, -1.5])
def test_gradient(beta):
    x = np.random.default_rng(81).normal(0, 2, (2, 3, 4))
    check_gradient(layer_from_text(f'name: "s" type: "Swish" swish_param {{ beta: {beta} }}'), [x])


def test_onnx(tmp_path):
    assert_onnx_parity("swish", ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Swish" in layer_types()
