"""DummyData: Caffe's numbers (constant tops), the statistics of its random fillers, the
refill rule (constant tops once, random tops every forward) and Caffe's setup refusals."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from gradcheck import layer_from_text
from layer_case import compare_recorded, load_recorded
from recorded_layers import assert_refused_like_caffe, caffe_refusals


@pytest.mark.parametrize("case", ["dummydata_default", "dummydata_constant", "dummydata_legacy",
                                  "dummydata_random"])
def test_matches_caffe(case):
    compare_recorded(case, backward=False)


def _dummy(param, tops):
    layer = layer_from_text(f'name: "d" type: "DummyData" dummy_data_param {{ {param} }}')
    top = [Blob() for _ in range(tops)]
    layer.check_blob_counts([], top)
    layer.setup([], top)
    layer.reshape([], top)
    return layer, top


def test_random_fillers_like_caffe():
    """Same shapes as Caffe's draw, values from the same distributions (Caffe's own draw
    gives the expected statistics too), refilled on every forward; the constant top stays."""
    _, arrays = load_recorded("dummydata_random")
    layer, top = _dummy('data_filler { type: "gaussian" mean: 1 std: 2 } '
                        'data_filler { type: "uniform" min: -3 max: -1 } '
                        'data_filler { type: "constant" value: 7 } '
                        "shape { dim: 50 dim: 40 } shape { dim: 2000 } shape { dim: 3 } ", 3)
    layer.forward([], top)
    first = [t.data.copy() for t in top]
    for ours in (first[0], arrays["random/g"]):
        assert ours.shape == (50, 40)
        assert abs(ours.mean() - 1) < 0.15 and abs(ours.std() - 2) < 0.15
    for ours in (first[1], arrays["random/u"]):
        assert ours.shape == (2000,)
        assert ours.min() >= -3 and ours.max() <= -1 and abs(ours.mean() + 2) < 0.05
    top[2].data[...] = 5  # a constant top is filled once, in setup, never refilled
    layer.forward([], top)
    assert not np.array_equal(top[0].data, first[0]) and not np.array_equal(top[1].data, first[1])
    np.testing.assert_array_equal(top[2].data, 5)


def test_legacy_shapes_and_no_backward():
    layer, top = _dummy("num: 2 channels: 3 height: 4 width: 5", 2)
    assert [t.shape for t in top] == [(2, 3, 4, 5)] * 2
    assert not layer.has_backward()


@pytest.mark.parametrize("name", caffe_refusals("dummydata_"))
def test_refuses_what_caffe_refuses(name, tmp_path):
    ours, theirs = assert_refused_like_caffe(name, tmp_path)
    assert "'d' (DummyData)" in ours
    key = {"dummydata_two_fillers_three_tops": "data fillers",
           "dummydata_shape_and_legacy": "both shape and legacy",
           "dummydata_two_shapes_three_tops": "'shape' once",
           "dummydata_legacy_missing_width": "'width' once"}[name]
    assert key in ours and key.lower() in theirs.lower()


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "DummyData" in layer_types()


def test_other_fillers_and_seed():
    """Any filler Caffe has (xavier here: U(-sqrt(3/fan_in), +)); a random seed makes the
    draws repeat."""
    from caffe_compat import rng

    param = 'data_filler { type: "xavier" } shape { dim: 40 dim: 25 }'
    rng.set_seed(7)
    layer, top = _dummy(param, 1)
    layer.forward([], top)
    a = top[0].data.copy()
    bound = np.sqrt(3 / 25)
    assert a.min() >= -bound and a.max() <= bound and a.std() > bound / 2
    rng.set_seed(7)
    layer, top = _dummy(param, 1)
    layer.forward([], top)
    np.testing.assert_array_equal(top[0].data, a)
