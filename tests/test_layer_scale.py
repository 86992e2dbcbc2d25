"""Scale: gradients with a learned scale (axis/num_axes grid, bias_term) and with the
scale as a second bottom; defaults; shape errors. (Caffe's numbers: test_layer_batchnorm
runs the batchnorm_* cases, which end in a Scale with bias_term.)"""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, make_blobs, setup_layer


def _scale(param="", name="sc"):
    return layer_from_text(f'name: "{name}" type: "Scale" scale_param {{ {param} }}')


def test_defaults_identity_and_shapes():
    x = np.random.default_rng(20).normal(size=(2, 3, 4))
    layer = _scale()
    bottom, top = setup_layer(layer, [x])
    assert [p.shape for p in layer.blobs] == [(3,)]
    np.testing.assert_array_equal(layer.blobs[0].data, 1)
    layer = _scale('axis: 0 num_axes: -1 bias_term: true bias_filler { type: "constant" value: 0.5 }'
                   ' filler { type: "constant" value: 2 }')
    bottom, top = setup_layer(layer, [x])
    assert [p.shape for p in layer.blobs] == [(2, 3, 4), (2, 3, 4)]
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, 2 * x + 0.5)


def test_forward_values():
    rng = np.random.default_rng(21)
    x, s, b = rng.normal(size=(2, 3, 4, 2)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    layer = _scale("num_axes: 2 bias_term: true")
    bottom, top = setup_layer(layer, [x])
    layer.blobs[0].data[...] = s
    layer.blobs[1].data[...] = b
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, x * s[None, :, :, None] + b[None, :, :, None],
                               rtol=1e-6)


@pytest.mark.parametrize("shape, param", [
    ((2, 3, 2), ""),
    ((2, 3, 2), "bias_term: true"),
    ((2, 3, 2, 2), "axis: 2 num_axes: 2 bias_term: true"),
    ((3, 4), "axis: 0 num_axes: 0 bias_term: true"),  # scalar scale
    ((2, 3, 2), "axis: -1 num_axes: -1"),
])
def test_gradient_learned_scale(shape, param):
    rng = np.random.default_rng(22)
    filler = 'filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 }'
    layer = _scale(f"{param} {filler}")
    check_gradient(layer, [rng.normal(size=shape)])


@pytest.mark.parametrize("shape, scale_shape, param", [
    ((2, 3, 2), (3,), ""),
    ((2, 3, 2), (3, 2), "bias_term: true"),
    ((2, 3, 4), (2,), "axis: 0 bias_term: true"),
    ((2, 3), (), ""),
])
def test_gradient_second_bottom(shape, scale_shape, param):
    rng = np.random.default_rng(23)
    layer = _scale(f'{param} bias_filler {{ type: "gaussian" std: 1 }}')
    check_gradient(layer, [rng.normal(size=shape), rng.normal(size=scale_shape)])


def test_in_place_matches_out_of_place():
    rng = np.random.default_rng(24)
    x, dy = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 2))
    param = 'bias_term: true filler { type: "gaussian" std: 1 }'
    ref = _scale(param)
    bottom, top = setup_layer(ref, [x])
    inplace = _scale(param)
    b = make_blobs([x])
    inplace.setup(b, b)
    for p, q in zip(inplace.blobs, ref.blobs):
        p.data[...] = q.data
    inplace.reshape(b, b)
    ref.forward(bottom, top)
    inplace.forward(b, b)
    top[0].diff[...] = dy
    b[0].diff[...] = dy
    ref.backward(top, [True], bottom)
    inplace.backward(b, [True], b)
    np.testing.assert_allclose(b[0].data, top[0].data, rtol=1e-6)
    np.testing.assert_allclose(b[0].diff, bottom[0].diff, rtol=1e-6)
    for p, q in zip(inplace.blobs, ref.blobs):
        np.testing.assert_allclose(p.diff, q.diff, rtol=1e-6)


def test_shape_errors():
    with pytest.raises(LayerSetupError) as e:
        setup_layer(_scale(name="mul"), [np.ones((2, 3, 4)), np.ones((4,))])
    assert "'mul'" in str(e.value) and "2 3 4 (24)" in str(e.value) and "4 (4)" in str(e.value)
    with pytest.raises(LayerSetupError, match="'mul'.*past"):
        setup_layer(_scale("axis: 2 num_axes: 2", name="mul"), [np.ones((2, 3, 4))])
    with pytest.raises(LayerSetupError, match="'mul'.*out of range"):
        setup_layer(_scale("axis: 3", name="mul"), [np.ones((2, 3, 4))])
