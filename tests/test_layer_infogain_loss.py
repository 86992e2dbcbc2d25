"""InfogainLoss: real Caffe 1.0's numbers with H as a bottom and from a binaryproto
``source`` (axis, ignore_label, VALID normalization), float64 gradient checks, refusals."""
import numpy as np
import pytest

from caffe_compat.errors import CaffeError, LayerSetupError
from caffe_compat.io import write_binaryproto
from caffe_compat.net import Net
from gradcheck import check_gradient, layer_from_text, setup_shapes
from real_caffe_layers import case_names, compare_case, load_case

CASES = ["infogain_bottom", "infogain_source_axis"]


def test_every_case_is_listed():
    assert case_names("infogain_") == CASES


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    checked = set(compare_case(case))
    assert "out/loss" in checked
    assert "diff/s" in checked or "indiff/x" in checked


def test_gradient_with_h_from_source(tmp_path):
    rng = np.random.default_rng(5)
    h = rng.uniform(0, 1, size=(4, 4)) + np.eye(4)
    write_binaryproto(str(tmp_path / "H.binaryproto"), h.reshape(1, 1, 4, 4).astype(np.float32))
    layer = layer_from_text(f'name: "loss" type: "InfogainLoss" infogain_loss_param {{ '
                            f'source: "{tmp_path / "H.binaryproto"}" axis: 2 }} '
                            'loss_param { normalization: FULL ignore_label: 3 }')
    x = rng.normal(size=(2, 3, 4))
    label = np.array([[0, 3, 2], [1, 1, 3]], np.float64)
    check_gradient(layer, [x, label], check_bottom=[0])


def test_gradient_with_h_bottom():
    rng = np.random.default_rng(6)
    layer = layer_from_text('name: "loss" type: "InfogainLoss" loss_param { normalization: BATCH_SIZE }')
    x, h = rng.normal(size=(3, 4)), rng.uniform(0, 1, size=(4, 4))
    check_gradient(layer, [x, np.array([3, 0, 1], np.float64), h], check_bottom=[0])


def test_refusals(tmp_path):
    with pytest.raises(LayerSetupError, match="Infogain matrix source must be specified"):
        setup_shapes(layer_from_text('name: "loss" type: "InfogainLoss"'), (2, 3), (2,))
    with pytest.raises(LayerSetupError, match="no such file"):
        setup_shapes(layer_from_text('name: "loss" type: "InfogainLoss" infogain_loss_param '
                                     f'{{ source: "{tmp_path / "absent"}" }}'), (2, 3), (2,))
    with pytest.raises(LayerSetupError, match="normalize is deprecated"):
        setup_shapes(layer_from_text('name: "loss" type: "InfogainLoss" loss_param { normalize: true }'),
                     (2, 3), (2,), (3, 3))
    with pytest.raises(LayerSetupError, match="H must be 3x3"):
        setup_shapes(layer_from_text('name: "loss" type: "InfogainLoss"'), (2, 3), (2,), (2, 2))
    with pytest.raises(LayerSetupError, match="number of labels must match"):
        setup_shapes(layer_from_text('name: "loss" type: "InfogainLoss"'), (2, 3, 2), (2,), (3, 3))


def test_force_backward_into_h_fails_as_in_caffe():
    """Caffe forces a gradient into bottom 2 (only the label is exempt) and then refuses it."""
    param, arrays = load_case("infogain_bottom")
    param.force_backward = True
    net = Net(param, 1)
    for k in ("x", "label", "H"):
        net.blobs[k].data[...] = arrays[f"in/{k}"]
    net.forward()
    with pytest.raises(CaffeError, match="cannot backpropagate to infogain inputs"):
        net.backward()
