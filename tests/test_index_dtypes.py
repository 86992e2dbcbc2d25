"""Index arrays are typed from the shape they index, never from a guess.

MAX pooling once kept its window offsets in int8 and multiplied them in that type: right
on every fixture (maps of at most 57 pixels), wrong on the 112- and 111-pixel maps of
ResNet's and GoogLeNet's pool1 (9,449 of 75,264 input gradients) and an OverflowError on
Inception-v3's 147. The tests below run exactly those layers against Caffe's loop, windows
wider than int8 holds, and the type rule itself.
"""
import numpy as np
import pytest

from caffe_compat.layer_types._index import index_dtype
from grid_support import assert_close, f64, run_layer, threads  # noqa: F401
from test_grid_pooling import pool_reference


@pytest.mark.parametrize("largest,smallest,want", [
    (127, np.int8, np.int8), (128, np.int8, np.int16), (32767, np.int8, np.int16),
    (32768, np.int8, np.int32), (5, np.int32, np.int32), (2**31 - 1, np.int32, np.int32),
    (2**31, np.int32, np.int64), (3 * 2**33, np.int8, np.int64),
])
def test_index_dtype_holds_the_largest_index(largest, smallest, want):
    assert index_dtype(largest, smallest) is want
    assert np.iinfo(want).max >= largest and np.iinfo(want).min <= -1


def test_index_dtype_refuses_what_nothing_holds():
    with pytest.raises(OverflowError):
        index_dtype(2**63)


@pytest.mark.parametrize("shape", [
    (1, 6, 112, 112),   # the ResNet pool1 reduction: 9,449 of 75,264 gradients were wrong
    (1, 3, 111, 111),   # GoogLeNet pool1
    (1, 2, 147, 147),   # Inception-v3: OverflowError: 147 out of bounds for int8
])
def test_max_pool_on_the_sizes_that_overflowed_int8(shape, threads):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    text = "type: 'Pooling' pooling_param { pool: MAX kernel_size: 3 stride: 2 }"
    layer, bottom, top, dys = run_layer(text, [x], num_top=2, propagate=[True])
    y, mask, dx = pool_reference(f64(x), dys[0], "MAX", (3, 3), (2, 2), (0, 0))
    assert_close(top[0].data, y, f"{shape} forward", rtol=1e-6)
    np.testing.assert_array_equal(top[1].data, mask)
    assert_close(bottom[0].diff, dx, f"{shape} backward")


@pytest.mark.parametrize("shape,kernel", [((2, 2, 3, 300), (3, 300)), ((1, 2, 200, 2), (200, 1))])
def test_max_pool_windows_wider_than_int8(shape, kernel, threads):
    """Window offsets up to 299 (int8 holds 127): global pooling of a wide map, and a tall
    kernel; the maxima sit near the far end of the windows."""
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    x[..., -2:] += 10
    x[..., -3:, :] += 10
    text = (f"type: 'Pooling' pooling_param {{ pool: MAX kernel_h: {kernel[0]} "
            f"kernel_w: {kernel[1]} }}")
    layer, bottom, top, dys = run_layer(text, [x], num_top=2, propagate=[True])
    y, mask, dx = pool_reference(f64(x), dys[0], "MAX", kernel, (1, 1), (0, 0))
    assert_close(top[0].data, y, f"{shape} forward", rtol=1e-6)
    np.testing.assert_array_equal(top[1].data, mask)
    assert_close(bottom[0].diff, dx, f"{shape} backward")


def test_eltwise_max_winner_index_is_sized_from_the_bottom_count():
    rng = np.random.default_rng(3)
    xs = [rng.integers(-2, 3, (2, 3, 4)).astype(np.float32) for _ in range(130)]
    layer, bottom, top, (dy,) = run_layer("type: 'Eltwise' eltwise_param { operation: MAX }", xs)
    best = np.full(xs[0].shape, -np.inf)
    winner = np.zeros(xs[0].shape, int)
    for i, x in enumerate(xs):  # Caffe: bottom 1 wins ties with bottom 0, later ones need '>'
        wins = (x >= best) if i == 1 else (x > best)
        best[wins], winner[wins] = x[wins], i
    assert_close(top[0].data, best, "eltwise max forward", rtol=0)
    for i, b in enumerate(bottom):
        assert_close(b.diff, np.where(winner == i, dy, 0), f"eltwise max diff {i}", rtol=0)
