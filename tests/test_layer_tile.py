"""Tile: Caffe's numbers (axis 1, -1, 0), a plain-loop reference on the shapes nets tile
(a pooled (N, C, 1, 1) context map spread over a 7x7 or 14x14 grid), numeric gradients,
Caffe's refusals, ONNX."""
import itertools

import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity, assert_refused_like_caffe, caffe_refusals


@pytest.mark.parametrize("case", ["tile", "tile_axis_neg", "tile_axis0"])
def test_matches_caffe(case):
    compare_recorded(case)


def _tile(axis, tiles):
    return layer_from_text(f'name: "t" type: "Tile" tile_param {{ axis: {axis} tiles: {tiles} }}')


def loop_tile(x, axis, tiles):
    axis %= x.ndim
    shape = list(x.shape)
    shape[axis] *= tiles
    y = np.zeros(shape)
    for idx in itertools.product(*(range(d) for d in shape)):
        src = list(idx)
        src[axis] %= x.shape[axis]
        y[idx] = x[tuple(src)]
    return y


@pytest.mark.parametrize("shape, axis, tiles", [
    ((2, 64, 1, 1), 2, 7), ((2, 32, 7, 1), 3, 7), ((1, 16, 1, 1), -2, 14), ((4, 10), 0, 3),
])
def test_loop_reference(shape, axis, tiles):
    rng = np.random.default_rng(91)
    x = rng.normal(size=shape)
    layer = _tile(axis, tiles)
    bottom, top = setup_layer(layer, [x])
    layer.forward(bottom, top)
    want = loop_tile(x, axis, tiles)
    np.testing.assert_array_equal(top[0].data, want)
    dy = rng.normal(size=want.shape)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    probe = rng.normal(size=shape)  # adjoint: <tile(p), dy> == <p, dx>
    np.testing.assert_allclose(np.sum(loop_tile(probe, axis, tiles) * dy),
                               np.sum(probe * bottom[0].diff), rtol=1e-10)


@pytest.mark.parametrize("axis, tiles", [(1, 3), (-1, 2), (0, 2)])
def test_gradient(axis, tiles):
    x = np.random.default_rng(92).normal(size=(2, 3, 2))
    check_gradient(_tile(axis, tiles), [x])


@pytest.mark.parametrize("name", caffe_refusals("tile_"))
def test_refuses_what_caffe_refuses(name, tmp_path):
    ours, theirs = assert_refused_like_caffe(name, tmp_path)
    assert "'t' (Tile)" in ours and "tiles" in ours.lower() and "tiles" in theirs.lower()


@pytest.mark.parametrize("case", ["tile", "tile_axis_neg"])
def test_onnx(case, tmp_path):
    assert_onnx_parity(case, ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Tile" in layer_types()
