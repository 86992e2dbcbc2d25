"""transform_param: Caffe's order crop -> mirror -> mean -> scale, and the crop/mirror draws.

The reference here is a per-sample loop written from Caffe's DataTransformer::Transform
(out[c, h, w'] = (x[c, h_off + h, w_off + w] - mean[c, h_off + h, w_off + w]) * scale, with
w' = crop - 1 - w when mirrored), given the offsets and flips the transformer drew.
"""
import numpy as np
import pytest

from caffe_compat import rng
from caffe_compat.data.transformer import DataTransformer
from caffe_compat.errors import CaffeError
from caffe_compat.proto import caffe_pb2
from conftest import CAFFE_REF, need
from data_helpers import TEST, TRAIN, run_data_layer
from google.protobuf import text_format


def transformer(text, phase, seed=0):
    p = text_format.Parse(text, caffe_pb2.TransformationParameter())
    return DataTransformer(p, phase, seed=seed)


def caffe_loop(x, mean_chw, mean_values, scale, crop, h_off, w_off, flip):
    n, c, h, w = x.shape
    oh, ow = (crop, crop) if crop else (h, w)
    out = np.zeros((n, c, oh, ow), np.float32)
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for col in range(ow):
                    v = np.float32(x[i, ch, h_off[i] + r, w_off[i] + col])
                    if mean_chw is not None:
                        v = np.float32(v - mean_chw[ch, h_off[i] + r, w_off[i] + col])
                    elif mean_values is not None:
                        v = np.float32(v - np.float32(mean_values[ch]))
                    dst = ow - 1 - col if flip[i] else col
                    out[i, ch, r, dst] = np.float32(v * np.float32(scale))
    return out


def test_crop_mirror_mean_scale_order(tmp_path):
    from caffe_compat.data.convert import write_mean_binaryproto

    g = np.random.default_rng(1)
    x = g.integers(0, 256, size=(6, 3, 9, 8)).astype(np.uint8)
    mean = g.uniform(0, 255, size=(3, 9, 8)).astype(np.float32)
    write_mean_binaryproto(tmp_path / "mean.bp", mean)
    t = transformer(f'crop_size: 5 mirror: true scale: 0.017 mean_file: "{tmp_path / "mean.bp"}"',
                    TRAIN, seed=4)
    h_off, w_off, flip = transformer("crop_size: 5 mirror: true", TRAIN, seed=4).draw(6, 9, 8)
    got = t.transform(x)
    want = caffe_loop(x, mean, None, 0.017, 5, h_off, w_off, flip)
    np.testing.assert_array_equal(got, want)


def test_mean_values_one_per_channel_or_one_for_all():
    x = np.random.default_rng(2).integers(0, 256, size=(2, 3, 4, 4)).astype(np.uint8)
    zero = np.zeros(2, int)
    got = transformer("mean_value: 104 mean_value: 117 mean_value: 123 scale: 0.5", TEST).transform(x)
    np.testing.assert_array_equal(got, caffe_loop(x, None, [104, 117, 123], 0.5, 0, zero, zero,
                                                  [False, False]))
    got = transformer("mean_value: 100", TEST).transform(x)
    np.testing.assert_array_equal(got, caffe_loop(x, None, [100] * 3, 1, 0, zero, zero,
                                                  [False, False]))
    with pytest.raises(CaffeError, match="1 mean_value or as many as channels"):
        transformer("mean_value: 1 mean_value: 2", TEST).transform(x)
    with pytest.raises(CaffeError, match="mean_file and mean_value"):
        transformer('mean_value: 1 mean_file: "x"', TEST)


def identify(out, n, h, w, crop):
    """Recover (h_off, w_off, flipped) of each output from a picture of distinct values."""
    found = []
    for i in range(n):
        top_left, top_right = int(out[i, 0, 0, 0]), int(out[i, 0, 0, -1])
        flipped = top_right < top_left
        start = top_right if flipped else top_left
        found.append((start // w, start % w, flipped))
    return found


def test_train_crops_and_mirrors_are_random():
    h, w, crop, n = 8, 7, 5, 4000
    img = np.arange(h * w, dtype=np.float32).reshape(1, 1, h, w)
    t = transformer(f"crop_size: {crop} mirror: true", TRAIN, seed=11)
    out = np.concatenate([t.transform(np.repeat(img, 400, axis=0)) for _ in range(n // 400)])
    found = identify(out, n, h, w, crop)
    offsets = np.array([(a, b) for a, b, _ in found])
    flips = np.array([f for _, _, f in found])
    # Every offset in [0, H - crop] x [0, W - crop] occurs, about uniformly.
    counts = np.zeros((h - crop + 1, w - crop + 1))
    np.add.at(counts, (offsets[:, 0], offsets[:, 1]), 1)
    expected = n / counts.size
    assert counts.min() > 0.6 * expected and counts.max() < 1.4 * expected
    assert abs(flips.mean() - 0.5) < 0.05
    # Each output really is that window (flipped when detected).
    for i in (0, 1, 2, 3):
        a, b, f = found[i]
        win = img[0, 0, a:a + crop, b:b + crop]
        np.testing.assert_array_equal(out[i, 0], win[:, ::-1] if f else win)


def test_test_phase_centre_crop_is_deterministic():
    h, w, crop = 8, 7, 5
    img = np.arange(h * w, dtype=np.float32).reshape(1, 1, h, w)
    for seed in range(5):
        out = transformer(f"crop_size: {crop}", TEST, seed=seed).transform(np.repeat(img, 50, 0))
        centre = img[0, 0, (h - crop) // 2:(h - crop) // 2 + crop, (w - crop) // 2:(w - crop) // 2 + crop]
        assert all(np.array_equal(o[0], centre) for o in out)


def test_mirror_is_random_in_test_phase_too_as_caffe():
    # Caffe 1.0: do_mirror = param_.mirror() && Rand(2), whatever the phase.
    img = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    out = transformer("mirror: true", TEST, seed=3).transform(np.repeat(img, 400, 0))
    flipped = out[:, 0, 0, 0] == 3
    assert np.all(flipped | (out[:, 0, 0, 0] == 0))
    assert 0.4 < flipped.mean() < 0.6


def test_seed_from_process_rng_repeats():
    img = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8).repeat(30, 0)
    p = text_format.Parse("crop_size: 5 mirror: true", caffe_pb2.TransformationParameter())
    rng.set_seed(123)
    a = DataTransformer(p, TRAIN).transform(img)
    rng.set_seed(123)
    b = DataTransformer(p, TRAIN).transform(img)
    rng.set_seed(124)
    c = DataTransformer(p, TRAIN).transform(img)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_crop_larger_than_data():
    with pytest.raises(CaffeError, match="crop_size 9 is larger"):
        transformer("crop_size: 9", TEST).transform(np.zeros((1, 1, 8, 8), np.uint8))


def test_data_layer_crops_mnist_centre_with_cropped_mean():
    mnist = CAFFE_REF / "formats" / "mnist_lmdb"
    exp = np.load(need(mnist / "expected.npz"))
    text = (f'name: "d" type: "Data" top: "data" top: "label" data_param {{ source: '
            f'"{mnist / "lmdb"}" batch_size: 20 backend: LMDB }} transform_param {{ '
            f'crop_size: 24 mean_file: "{mnist / "mean.binaryproto"}" }}')
    [(data, _)] = run_data_layer(text, TEST)
    # The centre window of Caffe's own mean-subtracted output (mean cropped at the same offset).
    np.testing.assert_array_equal(data, exp["datalayer_mean_subtracted"][:, :, 2:26, 2:26])
