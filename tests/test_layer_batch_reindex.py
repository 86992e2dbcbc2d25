"""BatchReindex: Caffe's numbers (repeated and fractional indices), numeric gradients,
the index bottom never takes a gradient, Caffe's refusals (2-axis index, indices out of
range while running), ONNX (Gather)."""
import numpy as np
import pytest

from caffe_compat.errors import CaffeError
from gradcheck import check_gradient, layer_from_text, make_blobs
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity, assert_refused_like_caffe, caffe_refusals


def test_matches_caffe():
    compare_recorded("batch_reindex")


def _reindex():
    return layer_from_text('name: "r" type: "BatchReindex"')


def test_gradient():
    rng = np.random.default_rng(131)
    check_gradient(_reindex(), [rng.normal(size=(4, 2, 3)), np.array([3.0, 0, 3, 1, 3])],
                   check_bottom=[0])


def test_no_gradient_to_the_index():
    layer = _reindex()
    assert layer.allow_force_backward(0) and not layer.allow_force_backward(1)
    bottom, top = make_blobs([np.ones((2, 3)), [1.0, 0.0]]), make_blobs([[]])
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    with pytest.raises(CaffeError, match="'r' \\(BatchReindex\\).*index"):
        layer.backward(top, [True, True], bottom)


@pytest.mark.parametrize("name", caffe_refusals("batch_reindex_"))
def test_refuses_what_caffe_refuses(name, tmp_path):
    ours, theirs = assert_refused_like_caffe(name, tmp_path)
    assert "'r' (BatchReindex)" in ours and "index" in ours.lower()


def test_onnx(tmp_path):
    assert_onnx_parity("batch_reindex", ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "BatchReindex" in layer_types()
