"""HingeLoss: real Caffe 1.0's L1 and L2 losses and gradients, float64 gradient checks."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_shapes
from real_caffe_layers import case_names, compare_case

CASES = ["hinge_l1", "hinge_l2"]


def hinge(params=""):
    return layer_from_text(f'name: "loss" type: "HingeLoss" {params}')


def test_every_case_is_listed():
    assert case_names("hinge_") == CASES


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    assert {"out/loss", "indiff/x"} <= set(compare_case(case))


@pytest.mark.parametrize("params", ["", "hinge_loss_param { norm: L1 }", "hinge_loss_param { norm: L2 }"])
def test_gradient(params):
    # Scores away from the hinge's kink (1 + t = 0) by more than the step.
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, size=(4, 5))
    x[np.abs(np.abs(x) - 1) < 0.05] = 0.5
    check_gradient(hinge(params), [x, np.array([0, 4, 2, 2], np.float64)], check_bottom=[0])


def test_label_out_of_range():
    l = hinge()
    bottom, top = setup_shapes(l, (2, 3), (2,))
    bottom[1].data[...] = [2, -1]
    with pytest.raises(LayerSetupError, match="Layer 'loss' \\(HingeLoss\\): label value -1 out of range"):
        l.forward(bottom, top)
