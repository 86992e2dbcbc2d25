"""Crop: Caffe's numbers (defaults, one offset, one offset per axis, negative axis, axis 0),
a plain-loop reference on the shapes real segmentation nets crop (FCN score maps), numeric
gradients, Caffe's refusals, ONNX."""
import itertools

import numpy as np
import pytest

from gradcheck import check_gradient, layer_from_text, setup_layer
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity, assert_refused_like_caffe, caffe_refusals

CASES = ["crop_default", "crop_offset", "crop_offsets_axis1", "crop_axis_neg", "crop_axis0"]


@pytest.mark.parametrize("case", CASES)
def test_matches_caffe(case):
    compare_recorded(case)


def _crop(param=""):
    return layer_from_text(f'name: "c" type: "Crop" crop_param {{ {param} }}')


def loop_crop(x, ref_shape, axis, offsets):
    """Caffe's crop by index arithmetic, element by element."""
    axis = axis % x.ndim
    out_shape = tuple(x.shape[:axis]) + tuple(ref_shape[axis:])
    offs = [0] * axis + [offsets[0] if len(offsets) == 1 else offsets[i - axis] if offsets else 0
                         for i in range(axis, x.ndim)]
    y = np.zeros(out_shape)
    for idx in itertools.product(*(range(d) for d in out_shape)):
        y[idx] = x[tuple(i + o for i, o in zip(idx, offs))]
    return y


# FCN-32s crops its 1/1 upsampled score map (with 19 pixels of offset on the 500x500 PASCAL
# inputs' 568x568 upscore) and FCN-8s its fused maps (offsets 5, 9, 31); scaled down here.
REAL_SHAPES = [
    ((1, 21, 70, 70), (1, 3, 50, 50), 2, [19]),
    ((1, 21, 36, 38), (1, 21, 34, 34), 2, [1, 2]),
    ((2, 5, 9, 9), (2, 5, 4, 4), 2, [5]),
    ((3, 4, 6), (3, 2, 6), 1, [1, 0]),
]


@pytest.mark.parametrize("x_shape, ref_shape, axis, offsets", REAL_SHAPES)
def test_loop_reference(x_shape, ref_shape, axis, offsets):
    rng = np.random.default_rng(51)
    x = rng.normal(size=x_shape)
    offs = " ".join(f"offset: {o}" for o in offsets)
    layer = _crop(f"axis: {axis} {offs}")
    bottom, top = setup_layer(layer, [x, np.zeros(ref_shape)])
    layer.forward(bottom, top)
    want = loop_crop(x, ref_shape, axis, offsets)
    np.testing.assert_array_equal(top[0].data, want)
    dy = rng.normal(size=want.shape)
    top[0].diff[...] = dy
    bottom[1].diff[...] = 3.0
    layer.backward(top, [True, True], bottom)
    # The bottom diff is the loop crop's adjoint: <crop(x), dy> == <x, dx> for every x.
    probe = rng.normal(size=x_shape)
    np.testing.assert_allclose(np.sum(loop_crop(probe, ref_shape, axis, offsets) * dy),
                               np.sum(probe * bottom[0].diff), rtol=1e-10)
    np.testing.assert_array_equal(bottom[1].diff, 3.0)  # the shape bottom is left alone


@pytest.mark.parametrize("param, shapes", [
    ("", ((2, 2, 5, 4), (1, 1, 3, 2))),
    ("axis: 1 offset: 1 offset: 0 offset: 2", ((2, 3, 4, 5), (2, 2, 3, 3))),
])
def test_gradient(param, shapes):
    rng = np.random.default_rng(52)
    check_gradient(_crop(param), [rng.normal(size=s) for s in shapes], check_bottom=[0])


@pytest.mark.parametrize("name", caffe_refusals("crop_"))
def test_refuses_what_caffe_refuses(name, tmp_path):
    ours, theirs = assert_refused_like_caffe(name, tmp_path)
    assert "'c' (Crop)" in ours
    key = {"crop_offset_count": ("offset values", "offset values"),
           "crop_out_of_bounds": ("out of bounds", "out-of-bounds"),
           "crop_axis_out_of_range": ("out of range", "out of range")}[name]
    assert key[0] in ours and key[1] in theirs


@pytest.mark.parametrize("case", ["crop_default", "crop_offsets_axis1", "crop_axis_neg"])
def test_onnx(case, tmp_path):
    model = assert_onnx_parity(case, ["y"], tmp_path)
    assert "Slice" in [n.op_type for n in model.graph.node]


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Crop" in layer_types()
