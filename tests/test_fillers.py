"""Fillers against Caffe's definitions (filler.hpp): ranges and moments of large draws,
fan sizes for each variance_norm, the bilinear kernel worked out by hand, seeding."""
import math

import numpy as np
import pytest
from google.protobuf import text_format

from caffe_compat import rng
from caffe_compat.errors import CaffeError
from caffe_compat.fillers import fill
from caffe_compat.proto import caffe_pb2

SHAPE = (64, 32, 3, 3)  # Caffe: fan_in = count / shape[0] = 288, fan_out = count / shape[1] = 576


def filler(text):
    return text_format.Parse(text, caffe_pb2.FillerParameter())


def draw(text, shape=SHAPE, seed=1):
    rng.set_seed(seed)
    out = fill(filler(text), shape)
    assert out.shape == shape and out.dtype == np.float32
    return out


def test_constant_default_and_value():
    np.testing.assert_array_equal(draw('type: "constant"'), 0)
    np.testing.assert_array_equal(draw('type: "constant" value: 0.25'), np.float32(0.25))


@pytest.mark.parametrize("text, lo, hi", [('type: "uniform"', 0.0, 1.0),
                                          ('type: "uniform" min: -2 max: 3', -2.0, 3.0)])
def test_uniform_range_and_mean(text, lo, hi):
    x = draw(text)
    assert x.min() >= lo and x.max() <= hi
    assert x.min() < lo + 0.01 * (hi - lo) and x.max() > hi - 0.01 * (hi - lo)
    assert abs(x.mean() - (lo + hi) / 2) < 0.02 * (hi - lo)


def test_gaussian_moments_and_sparse():
    x = draw('type: "gaussian" mean: 1 std: 0.5')
    assert abs(x.mean() - 1) < 0.02 and abs(x.std() - 0.5) < 0.02
    # sparse: each value kept with probability sparse / shape[0] = 16 / 64.
    x = draw('type: "gaussian" std: 1 sparse: 16')
    assert abs(np.mean(x != 0) - 0.25) < 0.02


@pytest.mark.parametrize("norm, n", [("", 288), ("variance_norm: FAN_IN", 288),
                                     ("variance_norm: FAN_OUT", 576),
                                     ("variance_norm: AVERAGE", (288 + 576) / 2)])
def test_xavier_and_msra_fans(norm, n):
    s = math.sqrt(3.0 / n)  # xavier: U(-s, s)
    x = draw(f'type: "xavier" {norm}')
    assert np.abs(x).max() <= s * (1 + 1e-6) and np.abs(x).max() > 0.99 * s
    assert abs(x.std() / (s / math.sqrt(3)) - 1) < 0.03
    x = draw(f'type: "msra" {norm}')  # msra: N(0, 2 / n)
    assert abs(x.mean()) < 0.05 * math.sqrt(2.0 / n)
    assert abs(x.std() / math.sqrt(2.0 / n) - 1) < 0.03


def test_fans_of_a_two_axis_blob():
    # InnerProduct weights (num_output, K): fan_in = K, fan_out = num_output.
    x = draw('type: "xavier" variance_norm: FAN_OUT', shape=(100, 400))
    s = math.sqrt(3.0 / 100)
    assert np.abs(x).max() <= s * (1 + 1e-6) and np.abs(x).max() > 0.99 * s


def test_positive_unitball_rows_sum_to_one():
    x = draw('type: "positive_unitball"', shape=(5, 3, 4))
    assert (x > 0).all()
    np.testing.assert_allclose(x.reshape(5, -1).sum(axis=1), 1, rtol=1e-5)


def test_bilinear_kernel_by_hand():
    # width 4: f = ceil(4/2) = 2, c = (2f - 1 - f % 2) / 2f = 0.75;
    # 1-D weights 1 - |x/f - c| for x = 0..3: 0.25 0.75 0.75 0.25; the kernel is their product.
    x = draw('type: "bilinear"', shape=(2, 3, 4, 4))
    w = np.array([0.25, 0.75, 0.75, 0.25])
    for k in np.ndindex(2, 3):
        np.testing.assert_allclose(x[k], np.outer(w, w), rtol=1e-6)
    with pytest.raises(CaffeError):
        fill(filler('type: "bilinear"'), (2, 3, 4, 5))


def test_seeded_draws_repeat_and_differ_by_seed():
    a = draw('type: "gaussian"', seed=7)
    b = draw('type: "gaussian"', seed=7)
    c = draw('type: "gaussian"', seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unknown_type_is_a_clear_error():
    with pytest.raises(CaffeError, match="unknown filler type 'nope'"):
        fill(filler('type: "nope"'), (2, 2))


def test_sparse_is_refused_outside_gaussian():
    from caffe_compat.errors import CaffeError
    from caffe_compat.fillers import fill
    from caffe_compat.proto import caffe_pb2

    with pytest.raises(CaffeError, match="only supported by the gaussian filler"):
        fill(caffe_pb2.FillerParameter(type="xavier", sparse=2), (4, 3))
