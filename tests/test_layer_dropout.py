"""Dropout: TEST identity (Caffe's numbers), TRAIN facts that hold for any mask, gradients."""
import numpy as np
import pytest

from caffe_compat import rng
from caffe_compat.blob import Blob
from caffe_compat.layer_types.dropout import DropoutLayer
from gradcheck import check_gradient, layer_from_text
from layer_case import compare_case, load_case

TRAIN, TEST = 0, 1


def dropout(ratio=None, phase=TRAIN):
    params = "" if ratio is None else f"dropout_param {{ dropout_ratio: {ratio} }}"
    return layer_from_text(f'name: "drop" type: "Dropout" bottom: "x" top: "y" {params}', phase)


def test_test_phase_matches_caffe():
    compare_case("dropout_test")


@pytest.mark.parametrize("in_place", [False, True])
def test_train_phase_facts(in_place):
    net, arrays = load_case("dropout_train")
    x, top_diff = arrays["in/x"], arrays["topdiff/y"]
    scale = arrays["meta/scale"]
    lyr = dropout(float(arrays["meta/dropout_ratio"]))
    assert lyr.layer_param.dropout_param.dropout_ratio == arrays["meta/dropout_ratio"]
    b = Blob(x.shape)
    t = b if in_place else Blob(())
    lyr.setup([b], [t])
    lyr.reshape([b], [t])
    b.data[...] = x
    lyr.forward([b], [t])
    y = t.data.copy()
    kept = y != 0
    # Every output is 0 or exactly scale * x, with Caffe's float32 scale (x is never 0).
    np.testing.assert_array_equal(y[kept], x[kept] * scale)
    kept_fraction = kept.mean()
    assert abs(kept_fraction - (1 - arrays["meta/dropout_ratio"])) < 0.06
    assert abs(kept_fraction - arrays["meta/kept_fraction"]) < 0.06
    t.diff[...] = top_diff
    lyr.backward([t], [True], [b])
    np.testing.assert_array_equal(b.diff, np.where(kept, top_diff * scale, 0))


def test_caffe_scale_in_float32():
    for ratio in (0.5, 0.3, 0.7):
        lyr = dropout(ratio)
        lyr.setup([Blob((1,))], [Blob(())])
        want = np.float32(1.0 / (1.0 - np.float64(np.float32(ratio))))
        assert np.float32(lyr.scale) == want


def test_default_ratio_is_half():
    lyr = dropout()
    lyr.setup([Blob((1,))], [Blob(())])
    assert np.float32(lyr.scale) == np.float32(2.0)


def test_seeded_masks_repeat():
    x = np.ones((50, 40), dtype=np.float32)
    outs = []
    for _ in range(2):
        rng.set_seed(123)
        lyr = dropout(0.5)
        b, t = Blob(x.shape), Blob(())
        b.data[...] = x
        lyr.setup([b], [t])
        lyr.reshape([b], [t])
        lyr.forward([b], [t])
        outs.append(t.data.copy())
    np.testing.assert_array_equal(outs[0], outs[1])
    assert 0.4 < (outs[0] != 0).mean() < 0.6


class _ReseededDropout(DropoutLayer):
    """Caffe's gradient checker reseeds before every forward so the mask stays fixed."""

    def forward(self, bottom, top):
        rng.set_seed(7)
        super().forward(bottom, top)


@pytest.mark.parametrize("shape", [(2, 3, 4), (6, 5)])
@pytest.mark.parametrize("ratio", [0.5, 0.3])
def test_train_gradient(shape, ratio):
    lyr = _ReseededDropout(dropout(ratio).layer_param, TRAIN)
    x = np.random.default_rng(0).normal(size=shape)
    check_gradient(lyr, [x])


@pytest.mark.parametrize("shape", [(2, 3, 4), (6, 5)])
def test_test_gradient(shape):
    x = np.random.default_rng(1).normal(size=shape)
    check_gradient(dropout(0.5, TEST), [x])


def test_bad_ratio_is_an_error():
    with pytest.raises(Exception, match="dropout_ratio"):
        dropout(1.0).setup([Blob((1,))], [Blob(())])
