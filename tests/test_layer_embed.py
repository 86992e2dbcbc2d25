"""Embed: real Caffe 1.0's forward and weight/bias gradients, float64 gradient checks, and
Caffe's refusals (bad parameters, out-of-range indices, a gradient asked of the indices)."""
import numpy as np
import pytest

from caffe_compat.errors import CaffeError, LayerSetupError
from caffe_compat.net import Net
from gradcheck import check_gradient, layer_from_text, setup_shapes
from real_caffe_layers import case_names, compare_case, load_case

CASES = ["embed_bias", "embed_nobias"]


def embed(params, name="embed"):
    return layer_from_text(f'name: "{name}" type: "Embed" embed_param {{ {params} }}')


def test_every_case_is_listed():
    assert case_names("embed_") == CASES


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    checked = compare_case(case)
    assert {"out/y", "diff/y", "paramdiff/embed/0"} <= set(checked)


def test_repeated_indices_accumulate():
    """Index 3 appears three times in embed_bias: Caffe's weight gradient row 3 is the sum
    of the three rows of the top's diff (a check of the recorded case itself)."""
    _, arrays = load_case("embed_bias")
    idx = arrays["in/i"].reshape(-1).astype(int)
    dy = arrays["diff/y"].reshape(len(idx), -1)
    want = np.zeros_like(arrays["param/embed/0"])
    for k, row in zip(idx, dy):
        want[k] += row
    np.testing.assert_allclose(arrays["paramdiff/embed/0"], want, rtol=1e-6)


@pytest.mark.parametrize("bias", ["true", "false"])
def test_gradient(bias):
    layer = embed(f"input_dim: 5 num_output: 3 bias_term: {bias} "
                  'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" }')
    idx = np.array([[4, 0, 4], [2, 2, 1]], np.float64)
    check_gradient(layer, [idx], check_bottom=[])


@pytest.mark.parametrize("params,message", [
    ("input_dim: 4", "num_output must be positive"),
    ("num_output: 4", "input_dim must be positive"),
])
def test_setup_errors(params, message):
    with pytest.raises(LayerSetupError, match=message):
        setup_shapes(embed(params), (2, 3))


@pytest.mark.parametrize("value", [4.0, -1.0, 1.5])
def test_bad_index_is_a_clear_error(value):
    layer = embed("input_dim: 4 num_output: 2")
    bottom, top = setup_shapes(layer, (3,))
    bottom[0].data[...] = [0, value, 1]
    with pytest.raises(LayerSetupError, match="Layer 'embed' \\(Embed\\): index .* 0 .. 3"):
        layer.forward(bottom, top)


def test_force_backward_into_the_indices_fails_as_in_caffe():
    """Caffe 1.0: force_backward makes Embed's Backward CHECK-fail ("Can't backpropagate to
    EmbedLayer input"), as the recorder found (its Embed cases therefore run without it)."""
    param, arrays = load_case("embed_bias")
    param.force_backward = True
    net = Net(param, 1)
    for k in ("i", "t"):
        net.blobs[k].data[...] = arrays[f"in/{k}"]
    net.forward()
    with pytest.raises(CaffeError, match="can't backpropagate to EmbedLayer input"):
        net.backward()
