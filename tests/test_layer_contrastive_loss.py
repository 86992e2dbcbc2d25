"""ContrastiveLoss: real Caffe 1.0's loss and both feature gradients (default and legacy
versions), float64 gradient checks, and Caffe's shape checks."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_shapes
from real_caffe_layers import case_names, compare_case

CASES = ["contrastive", "contrastive_legacy"]


def contrastive(params=""):
    return layer_from_text(f'name: "loss" type: "ContrastiveLoss" {params}')


def test_every_case_is_listed():
    assert case_names("contrastive") == CASES


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    assert {"out/loss", "indiff/a", "indiff/b"} <= set(compare_case(case))


@pytest.mark.parametrize("params,threshold", [
    # Caffe divides by (d + 1e-4) instead of d: its gradient is off the exact one by ~1e-4 d.
    ("contrastive_loss_param { margin: 1.5 }", 1e-3),
    ("contrastive_loss_param { margin: 2 legacy_version: true }", 1e-6),
])
def test_gradient(params, threshold):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(6, 3)) * 0.5, rng.normal(size=(6, 3)) * 0.5
    sim = np.array([1, 0, 0, 1, 0, 0], np.float64)
    check_gradient(contrastive(params), [a, b, sim], check_bottom=[0, 1], threshold=threshold)


@pytest.mark.parametrize("shapes,message", [
    (((4, 3), (4, 2), (4,)), "same channels"),
    (((4, 3, 2), (4, 3, 2), (4,)), "height and width 1"),
    (((4, 3), (4, 3), (4, 2)), "similarity bottom"),
    (((4, 3), (3, 3), (4,)), "same first dimension"),
])
def test_shape_errors(shapes, message):
    with pytest.raises(LayerSetupError, match=message):
        setup_shapes(contrastive(), *shapes)
