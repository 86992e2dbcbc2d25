"""resize_linear against OpenCV 4.5's INTER_LINEAR as real Caffe 1.0's convert_imageset ran it.

tests/data/cv_resize.npz was written by tests/tools/record_cv_resize.py: per case a seed, the
source and destination shapes, and the pixels OpenCV produced (up- and down-scaling, odd
ratios, 1-pixel sizes, identity, exact 2x, gray and BGR).
"""
from pathlib import Path

import numpy as np
import pytest

from caffe_compat.data.cv_resize import resize_linear

RECORDED = np.load(Path(__file__).parent / "data" / "cv_resize.npz")
CASES = [tuple(int(v) for v in row) for row in RECORDED["cases"]]


def case_image(seed, h, w, c):
    """The recorded input (the same recipe as record_cv_resize.case_image)."""
    shape = (h, w) if c == 1 else (h, w, c)
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def recorded_outputs():
    """[(input, OpenCV's output)] for every recorded case."""
    out, start = [], 0
    for seed, h, w, c, dh, dw in CASES:
        shape = (dh, dw) if c == 1 else (dh, dw, c)
        size = int(np.prod(shape))
        out.append((case_image(seed, h, w, c),
                    RECORDED["pixels"][start:start + size].reshape(shape)))
        start += size
    assert start == RECORDED["pixels"].size
    return out


OUTPUTS = recorded_outputs()


@pytest.mark.parametrize("index", range(len(CASES)),
                         ids=[f"{h}x{w}x{c}-to-{dh}x{dw}" for _, h, w, c, dh, dw in CASES])
def test_resize_equals_opencv(index):
    img, want = OUTPUTS[index]
    got = resize_linear(img, *want.shape[:2])
    assert got.dtype == np.uint8 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_recorded_cases_cover_the_grid():
    shapes = {(h, w, dh, dw) for _, h, w, _, dh, dw in CASES}
    assert any(dh > h and dw > w for h, w, dh, dw in shapes)  # upscaling
    assert any(dh < h and dw < w for h, w, dh, dw in shapes)  # downscaling
    assert any((h, w) == (dh, dw) for h, w, dh, dw in shapes)  # identity
    assert any((h, w) == (2 * dh, 2 * dw) for h, w, dh, dw in shapes)  # OpenCV's area path
    assert any(1 in (h, w, dh, dw) for h, w, dh, dw in shapes)  # 1-pixel sizes
    assert {c for _, _, _, c, _, _ in CASES} == {1, 3}


def test_plain_rounding_would_not_match():
    """The recording tells OpenCV's vertical rounding from the textbook one: the same
    weights with r0 * b0 + r1 * b1 rounded once, (v + 2**21) >> 22, miss most cases."""
    from caffe_compat.data import cv_resize

    plain = 0
    for img, want in OUTPUTS:
        src = img if img.ndim == 3 else img[:, :, None]
        x0, x1, a0, a1 = cv_resize._axis(src.shape[1], want.shape[1], True)
        y0, y1, b0, b1 = cv_resize._axis(src.shape[0], want.shape[0], False)
        rows = src.astype(np.int64)[:, x0] * a0[None, :, None] + \
            src.astype(np.int64)[:, x1] * a1[None, :, None]
        value = rows[y0] * b0[:, None, None] + rows[y1] * b1[:, None, None]
        out = ((value + (1 << 21)) >> 22).reshape(want.shape)
        plain += int(np.any(out != want))
    assert plain > len(OUTPUTS) // 2


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        resize_linear(np.zeros((4, 4), np.float32), 2, 2)
    with pytest.raises(ValueError, match="size"):
        resize_linear(np.zeros((4, 4), np.uint8), 0, 2)
