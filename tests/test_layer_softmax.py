"""Softmax: Caffe's numbers, gradients along several axes, stability."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from gradcheck import check_gradient, layer_from_text
from layer_case import compare_case


def softmax_layer(axis=None):
    params = "" if axis is None else f"softmax_param {{ axis: {axis} }}"
    return layer_from_text(f'name: "sm" type: "Softmax" bottom: "x" top: "y" {params}')


@pytest.mark.parametrize("case", ["softmax_2d", "softmax_4d"])
def test_matches_caffe(case):
    compare_case(case)


@pytest.mark.parametrize("shape,axis", [((2, 3, 4), None), ((2, 3, 4), -1), ((4, 5), 0),
                                        ((2, 3, 2, 2), 1)])
def test_gradient(shape, axis):
    x = np.random.default_rng(0).normal(0, 2, shape)
    check_gradient(softmax_layer(axis), [x])


def test_large_inputs_stay_finite():
    lyr = softmax_layer()
    b, t = Blob((2, 3)), Blob(())
    b.data[...] = [[1000, 1001, 1002], [-1000, -1000, -1000]]
    lyr.setup([b], [t])
    lyr.reshape([b], [t])
    lyr.forward([b], [t])
    e = np.exp([-2.0, -1.0, 0.0])
    np.testing.assert_allclose(t.data, [e / e.sum(), [1 / 3] * 3], rtol=1e-6)


def test_axis_out_of_range():
    lyr = softmax_layer(3)
    with pytest.raises(Exception, match="Layer 'sm'.*axis"):
        lyr.reshape([Blob((2, 3))], [Blob(())])
