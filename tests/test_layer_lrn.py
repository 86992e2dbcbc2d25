"""LRN: Caffe's reference cases (both regions), float64 gradient checks, errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text
from layer_case import case_names, compare_case

CASES = ["lrn_across", "lrn_within"]


def lrn(params, name="norm"):
    return layer_from_text(f'name: "{name}" type: "LRN" lrn_param {{ {params} }}')


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    checked = compare_case(case)
    assert {"out/y", "indiff/x"} <= set(checked)


def test_every_lrn_case_is_listed():
    assert case_names("lrn_") == sorted(CASES)


def test_across_channels_formula():
    layer = lrn("local_size: 3 alpha: 0.375 beta: 0.625 k: 2")
    x = np.random.default_rng(0).normal(size=(1, 4, 2, 2))
    bottom, top = [Blob(x.shape, dtype=np.float64)], [Blob((), dtype=np.float64)]
    bottom[0].data[...] = x
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    sq = np.pad(x ** 2, ((0, 0), (1, 1), (0, 0), (0, 0)))
    scale = 2 + 0.375 / 3 * (sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:])
    np.testing.assert_allclose(top[0].data, x * scale ** -0.625, rtol=1e-12)


@pytest.mark.parametrize("params,shape", [
    ("local_size: 3 alpha: 0.5 beta: 0.75", (2, 4, 3, 2)),
    ("local_size: 5 alpha: 2 beta: 0.6 k: 1.5", (1, 7, 2, 3)),
    ("local_size: 5 alpha: 1 beta: 0.75", (2, 2, 2, 2)),  # fewer channels than the window
    ("local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL", (2, 2, 4, 5)),
    ("local_size: 5 alpha: 2 beta: 0.4 norm_region: WITHIN_CHANNEL", (1, 2, 3, 3)),
])
def test_gradient(params, shape):
    x = np.random.default_rng(6).uniform(-1.5, 1.5, size=shape)
    check_gradient(lrn(params), [x])


@pytest.mark.parametrize("params,shape,pattern", [
    ("local_size: 4", (1, 3, 4, 4), "odd values for local_size"),
    ("local_size: 3", (1, 3, 4), "must have 4 axes"),
])
def test_errors(params, shape, pattern):
    layer = lrn(params, name="bad_lrn")
    bottom, top = [Blob(shape)], [Blob()]
    with pytest.raises(LayerSetupError, match=pattern) as info:
        layer.setup(bottom, top)
        layer.reshape(bottom, top)
    assert "bad_lrn" in str(info.value)
