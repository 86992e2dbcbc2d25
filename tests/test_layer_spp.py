"""SPP: real Caffe 1.0's forward and backward (MAX, AVE, pyramid_height 1), the level
geometry written out by hand, float64 gradient checks, and Caffe's refusals."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from caffe_compat.layer_types.spp import level_geometry
from gradcheck import check_gradient, layer_from_text, setup_shapes
from real_caffe_layers import case_names, compare_case

CASES = ["spp_ave2", "spp_height1", "spp_max3"]


def spp(params):
    return layer_from_text(f'name: "spp" type: "SPP" spp_param {{ {params} }}')


def test_every_case_is_listed():
    assert case_names("spp_") == CASES


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    assert {"out/y", "indiff/x"} <= set(compare_case(case))


def test_geometry():
    # 9 rows in 4 bins: kernel ceil(9/4) = 3, 3*4 - 9 = 3 rows short, pad (3+1)/2 = 2.
    assert level_geometry(2, 9, 10) == [(3, 2), (3, 1)]
    assert level_geometry(0, 9, 10) == [(9, 0), (10, 0)]
    assert level_geometry(1, 7, 5) == [(4, 1), (3, 1)]


def test_top_shapes():
    _, top = setup_shapes(spp("pyramid_height: 3"), (2, 3, 9, 10))
    assert top[0].shape == (2, 3 * (1 + 4 + 16))
    _, top = setup_shapes(spp("pyramid_height: 1"), (2, 3, 9, 10))
    assert top[0].shape == (2, 3, 1, 1)


@pytest.mark.parametrize("params,shape", [
    ("pyramid_height: 3", (2, 2, 8, 9)),
    ("pyramid_height: 2 pool: AVE", (1, 3, 7, 5)),
    ("pyramid_height: 1 pool: AVE", (2, 2, 3, 4)),
])
def test_gradient(params, shape):
    x = np.random.default_rng(7).normal(size=shape)
    check_gradient(spp(params), [x])


def test_refusals():
    with pytest.raises(LayerSetupError, match="pyramid_height"):
        setup_shapes(spp("pool: MAX"), (1, 1, 4, 4))
    with pytest.raises(LayerSetupError, match="4 axes"):
        setup_shapes(spp("pyramid_height: 2"), (1, 4, 4))
    # 3 rows in 4 bins: kernel 1, pad 1, and Caffe's Pooling needs pad < kernel.
    with pytest.raises(LayerSetupError, match="Layer 'spp' \\(SPP\\): pyramid level 2 .*pad"):
        setup_shapes(spp("pyramid_height: 3"), (1, 1, 3, 3))
