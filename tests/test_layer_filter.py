"""Filter: Caffe's numbers (two data bottoms, (N, 1) and (N,) selectors, values other than
1 counting as selected), tops that follow the selector's values, gradients only to the
selected items and never to the selector, Caffe's refusals, ONNX (Compress)."""
import numpy as np
import pytest

import caffe_compat as caffe
from caffe_compat.errors import CaffeError
from gradcheck import check_gradient, layer_from_text, make_blobs
from layer_case import RECORDED, compare_recorded
from recorded_layers import (assert_onnx_parity, assert_refused_like_caffe, caffe_refusals,
                             recorded_net)


@pytest.mark.parametrize("case", ["filter", "filter_1d"])
def test_matches_caffe(case):
    compare_recorded(case)


def _filter(bottoms=("x", "z", "sel")):
    return layer_from_text('name: "f" type: "Filter"' + "".join(f' bottom: "{b}"' for b in bottoms))


def test_tops_follow_the_selector():
    layer = _filter(("x", "sel"))
    x = np.arange(12.0).reshape(4, 3)
    bottom = make_blobs([x, [0, 0, 0, 0]])
    top = make_blobs([[]])
    layer.check_blob_counts(bottom, top)
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    assert top[0].shape == (4, 3)  # the first reshape: every item, as Caffe's
    for sel, rows in [([0, 1, 0, 1], [1, 3]), ([1, 1, 1, 1], [0, 1, 2, 3]), ([0, -2, 0, 0], [1])]:
        bottom[1].data[...] = sel
        layer.reshape(bottom, top)
        layer.forward(bottom, top)
        np.testing.assert_array_equal(top[0].data, x[rows])


def test_gradient_to_selected_items_only():
    layer = _filter()
    rng = np.random.default_rng(121)
    sel = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    check_gradient(layer, [rng.normal(size=(5, 2, 2)), rng.normal(size=(5, 3)), sel], num_top=2,
                   check_bottom=[0, 1])


def test_never_a_gradient_to_the_selector():
    layer = _filter(("x", "sel"))
    assert layer.allow_force_backward(0) is True
    bottom = make_blobs([np.ones((2, 3)), [1, 0]])
    top = make_blobs([[]])
    layer.setup(bottom, top)
    assert not layer.allow_force_backward(1)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    with pytest.raises(CaffeError, match="'f' \\(Filter\\).*selector"):
        layer.backward(top, [True, True], bottom)


def test_force_backward_net_leaves_the_selector(tmp_path):
    """Our Net does not force a gradient into the selector (Caffe's would abort)."""
    _, arrays = recorded_net("filter")
    path = tmp_path / "f.prototxt"
    path.write_text("force_backward: true\n" + (RECORDED / "filter.prototxt").read_text())
    net = caffe.Net(str(path), caffe.TEST)
    for key, value in arrays.items():
        if key.startswith("in/"):
            net.blobs[key[3:]].data[...] = value
    net.forward()
    for top in ("y", "w"):
        net.blobs[top].diff[...] = arrays["topdiff/" + top]
    net.backward()
    assert not net.blobs["sel"].diff.any()
    assert net.blobs["z"].diff.any()  # forced: the other data bottom gets one


def test_loss_weight_on_a_top_survives_the_selection(tmp_path):
    """Caffe fills a loss top's diff with its loss_weight once, at setup, and Reshape keeps
    that memory: with no diff set by hand, the selected items get the loss_weight."""
    _, arrays = recorded_net("filter")
    path = tmp_path / "f.prototxt"
    path.write_text((RECORDED / "filter.prototxt").read_text().replace(
        "loss_weight: 1 loss_weight: 1", "loss_weight: 2 loss_weight: 1"))
    net = caffe.Net(str(path), caffe.TEST)
    for key, value in arrays.items():
        if key.startswith("in/"):
            net.blobs[key[3:]].data[...] = value
    net.forward()
    net.backward()
    selected = arrays["in/sel"].reshape(-1) != 0
    np.testing.assert_array_equal(net.blobs["xb"].diff[selected], 2)
    np.testing.assert_array_equal(net.blobs["xb"].diff[~selected], 0)


@pytest.mark.parametrize("name", caffe_refusals("filter_"))
def test_refuses_what_caffe_refuses(name, tmp_path):
    ours, theirs = assert_refused_like_caffe(name, tmp_path)
    assert "'f' (Filter)" in ours
    key = {"filter_selector_shape": "singletons", "filter_first_axis": "0th dimension",
           "filter_top_count": "top"}[name]
    assert key in ours


@pytest.mark.parametrize("case, outputs", [("filter", ["y", "w"]), ("filter_1d", ["y"])])
def test_onnx(case, outputs, tmp_path):
    model = assert_onnx_parity(case, outputs, tmp_path)
    assert "Compress" in [n.op_type for n in model.graph.node]


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Filter" in layer_types()
