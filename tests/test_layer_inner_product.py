"""InnerProduct: Caffe's reference cases, float64 gradient checks, setup errors."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, setup_shapes
from layer_case import case_names, compare_case

CASES = ["ip_default", "ip_transpose", "ip_axis2"]
FILLERS = 'weight_filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 }'


def ip(params, name="ip"):
    return layer_from_text(f'name: "{name}" type: "InnerProduct" inner_product_param {{ {params} }}')


def setup(layer, shape):
    return setup_shapes(layer, shape)


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    checked = compare_case(case)
    assert {"out/y", "indiff/x", "paramdiff/ip/0", "paramdiff/ip/1"} <= set(checked)


def test_every_ip_case_is_listed():
    assert case_names("ip_") == sorted(CASES)


@pytest.mark.parametrize("params,shape", [
    ("num_output: 3", (2, 2, 2, 2)),
    ("num_output: 3 transpose: true", (3, 5)),
    ("num_output: 2 axis: 2", (2, 3, 4)),
    ("num_output: 2 axis: -1 bias_term: false", (2, 3, 4)),
])
def test_gradient(params, shape):
    x = np.random.default_rng(4).normal(size=shape)
    check_gradient(ip(f"{params} {FILLERS}"), [x])


def test_shapes_and_transpose_layout():
    layer = ip(f"num_output: 5 transpose: true {FILLERS}")
    bottom, top = setup(layer, (2, 3, 4))
    assert layer.blobs[0].shape == (12, 5) and top[0].shape == (2, 5)
    bottom[0].data[...] = np.arange(24).reshape(2, 3, 4) / 10
    layer.forward(bottom, top)
    want = bottom[0].data.reshape(2, 12) @ layer.blobs[0].data + layer.blobs[1].data
    np.testing.assert_allclose(top[0].data, want, rtol=1e-5)


def test_param_diffs_accumulate():
    layer = ip(f"num_output: 2 {FILLERS}")
    bottom, top = setup(layer, (3, 4))
    bottom[0].data[...] = 1
    layer.forward(bottom, top)
    top[0].diff[...] = 1
    layer.backward(top, [True], bottom)
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(layer.blobs[0].diff, np.full((2, 4), 6.0))
    np.testing.assert_allclose(layer.blobs[1].diff, np.full(2, 6.0))


def test_errors():
    with pytest.raises(LayerSetupError, match="bad_ip.*num_output must be > 0"):
        setup(ip("num_output: 0", name="bad_ip"), (2, 3))
    with pytest.raises(LayerSetupError, match="bad_ip.*axis 3 out of range"):
        setup(ip("num_output: 2 axis: 3", name="bad_ip"), (2, 3))
    layer = ip("num_output: 2", name="ip9")
    bottom, top = setup(layer, (2, 3, 4))
    bottom[0].reshape(2, 3, 5)
    with pytest.raises(LayerSetupError, match=r"ip9.*expected 12 values.*2 3 5"):
        layer.reshape(bottom, top)
