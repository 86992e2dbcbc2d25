"""BatchNorm (chained with Scale as in the fixtures): Caffe's numbers, statistics update,
gradients in both modes, frozen parameters."""
import numpy as np
import pytest

from caffe_compat.errors import LayerSetupError
from gradcheck import check_gradient, layer_from_text, make_blobs, setup_layer
from layer_case import compare_case

TRAIN, TEST = 0, 1


@pytest.mark.parametrize("case", ["batchnorm_global", "batchnorm_train"])
def test_matches_caffe(case):
    checked = compare_case(case)
    for key in ("out/xn", "out/y", "indiff/x", "diff/xn", "paramafter/bn/0",
                "paramafter/bn/1", "paramafter/bn/2", "paramdiff/scale/0", "paramdiff/scale/1"):
        assert key in checked


def _bn(param="", phase=TRAIN, name="bn"):
    return layer_from_text(
        f'name: "{name}" type: "BatchNorm" batch_norm_param {{ {param} }}', phase=phase)


def _run(layer, x):
    bottom, top = setup_layer(layer, [x], float64_params=True)
    layer.forward(bottom, top)
    return bottom, top


def test_statistics_update_and_output():
    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(2, 3, size=(3, 2, 4)), rng.normal(-1, 0.5, size=(3, 2, 4))
    layer = _bn("moving_average_fraction: 0.9 eps: 0.001")
    bottom, top = _run(layer, x1)
    mean1, var1 = x1.mean(axis=(0, 2)), x1.var(axis=(0, 2))
    np.testing.assert_allclose(top[0].data, (x1 - mean1[:, None]) / np.sqrt(var1[:, None] + 1e-3),
                               rtol=1e-6)
    bottom[0].data[...] = x2
    layer.forward(bottom, top)
    m = 3 * 4
    mean2, var2 = x2.mean(axis=(0, 2)), x2.var(axis=(0, 2))
    maf = np.float64(np.float32(0.9))
    np.testing.assert_allclose(layer.blobs[2].data, [maf * 1 + 1], rtol=1e-7)
    np.testing.assert_allclose(layer.blobs[0].data, maf * mean1 + mean2, rtol=1e-7)
    np.testing.assert_allclose(layer.blobs[1].data, maf * var1 * m / (m - 1) + var2 * m / (m - 1),
                               rtol=1e-7)


def test_global_stats_divide_by_factor_and_zero_factor():
    x = np.random.default_rng(8).normal(size=(2, 3, 2))
    layer = _bn(phase=TEST)  # use_global_stats defaults to true in TEST
    bottom, top = _run(layer, x)
    # All statistics 0 and factor 0: mean 0, variance 0.
    eps = float(np.float32(1e-5))
    np.testing.assert_allclose(top[0].data, x / np.sqrt(eps), rtol=1e-6)
    layer.blobs[0].data[...] = [2.0, 4.0, 6.0]
    layer.blobs[1].data[...] = [8.0, 2.0, 4.0]
    layer.blobs[2].data[...] = 2.0
    before = [p.data.copy() for p in layer.blobs]
    layer.forward(bottom, top)
    mean, var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 1.0, 2.0])
    np.testing.assert_allclose(top[0].data, (x - mean[:, None]) / np.sqrt(var[:, None] + eps),
                               rtol=1e-6)
    for p, b in zip(layer.blobs, before):  # global stats never change them
        np.testing.assert_array_equal(p.data, b)


def test_use_global_stats_default_follows_phase():
    x = np.random.default_rng(9).normal(size=(4, 2))
    _, top = _run(_bn(phase=TRAIN), x)
    np.testing.assert_allclose(top[0].data.mean(axis=0), 0, atol=1e-12)
    _, top = _run(_bn(phase=TEST), x)
    np.testing.assert_allclose(top[0].data, x / np.sqrt(float(np.float32(1e-5))), rtol=1e-6)
    _, top = _run(_bn("use_global_stats: false", phase=TEST), x)
    np.testing.assert_allclose(top[0].data.mean(axis=0), 0, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 2, 2, 3), (6,)])
def test_gradient_batch_stats(shape):
    x = np.random.default_rng(10).normal(size=shape) * 2 + 1
    check_gradient(_bn("use_global_stats: false"), [x], check_params=False)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_gradient_global_stats(shape):
    rng = np.random.default_rng(11)
    x = rng.normal(size=shape)
    layer = _bn("use_global_stats: true", phase=TRAIN)
    bottom, top = _run(layer, x)
    layer.blobs[0].data[...] = rng.normal(size=3) * 4
    layer.blobs[1].data[...] = rng.uniform(1, 5, size=3) * 4
    layer.blobs[2].data[...] = 4.0
    check_gradient(layer, [x], setup=False, check_params=False)


def test_in_place_backward():
    rng = np.random.default_rng(12)
    x, dy = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2))
    ref, inplace = _bn(), _bn()
    bottom, top = _run(ref, x)
    top[0].diff[...] = dy
    ref.backward(top, [True], bottom)
    b = make_blobs([x])
    inplace.setup(b, b)
    inplace.reshape(b, b)
    inplace.forward(b, b)
    np.testing.assert_allclose(b[0].data, top[0].data, rtol=1e-12)
    b[0].diff[...] = dy
    inplace.backward(b, [True], b)
    np.testing.assert_allclose(b[0].diff, bottom[0].diff, rtol=1e-10)


def test_parameters_are_frozen_statistics():
    layer = _bn()
    assert layer.fixed_param_lr_mult() is True
    _run(layer, np.ones((2, 3)))
    assert [p.shape for p in layer.blobs] == [(3,), (3,), (1,)]
    assert [p.lr_mult for p in layer.layer_param.param] == [0, 0, 0]
    bad = layer_from_text('name: "bn" type: "BatchNorm" param { lr_mult: 0 } param { lr_mult: 1 }')
    with pytest.raises(LayerSetupError, match="'bn'.*lr_mult"):
        _run(bad, np.ones((2, 3)))


def test_channel_mismatch_after_setup():
    layer = _bn(name="norm")
    bottom, top = _run(layer, np.ones((2, 3)))
    with pytest.raises(LayerSetupError, match="'norm'.*2 4 \\(8\\)"):
        layer.reshape(make_blobs([np.ones((2, 4))]), top)
