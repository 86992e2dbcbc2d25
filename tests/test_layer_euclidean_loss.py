"""EuclideanLoss: Caffe's numbers, both bottoms' gradients, shape errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text
from layer_case import compare_case


def euclid():
    return layer_from_text('name: "l2" type: "EuclideanLoss" bottom: "a" bottom: "b" top: "loss"')


def test_matches_caffe():
    compare_case("euclidean")


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_value_and_gradient(shape):
    g = np.random.default_rng(0)
    a, b = g.normal(size=shape), g.normal(size=shape)
    lyr = euclid()
    bottom = [Blob(shape, dtype=np.float64), Blob(shape, dtype=np.float64)]
    bottom[0].data[...], bottom[1].data[...] = a, b
    top = [Blob((), dtype=np.float64)]
    lyr.setup(bottom, top)
    lyr.reshape(bottom, top)
    lyr.forward(bottom, top)
    assert float(top[0].data) == pytest.approx(((a - b) ** 2).sum() / (2 * shape[0]), rel=1e-12)
    check_gradient(euclid(), [a, b])


def test_dimension_mismatch():
    lyr = euclid()
    with pytest.raises(LayerSetupError, match=r"'l2'.*same dimension.*4 3 \(12\).*4 2 \(8\)"):
        lyr.reshape([Blob((4, 3)), Blob((4, 2))], [Blob(())])
