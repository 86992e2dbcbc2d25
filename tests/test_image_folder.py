"""An image folder as --data (train/ and test/ or val/, a subfolder per class): the pixels
Pillow decodes (BGR for colour, as Caffe's convert_imageset), labels by sorted class name,
the training images shuffled once, one size required; and distill runs on MNIST digits
saved as PNGs (caffe_compat.data.image_folder)."""
import numpy as np
import pytest
from PIL import Image

from caffe_compat.data.dataset import detect, open_dataset
from caffe_compat.data.image_folder import load_image_folder
from caffe_compat.errors import CaffeError


def make_folder(root, classes=("cat", "ant", "bee"), per_class=(6, 2), size=(10, 12),
                mode="L", test_name="test", seed=0):
    """Images of ``size`` (W, H) saved as PNG: {(split, class): [array as saved]}."""
    rng = np.random.default_rng(seed)
    saved = {}
    for split, count in zip(("train", test_name), per_class):
        for c in classes:
            folder = root / split / c
            folder.mkdir(parents=True)
            for i in range(count):
                shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
                pixels = rng.integers(0, 256, shape).astype(np.uint8)
                Image.fromarray(pixels, mode).save(folder / f"{i:03d}.png")
                saved.setdefault((split, c), []).append(pixels)
    return saved


def test_gray_images_labels_by_sorted_class_and_a_shuffled_train(tmp_path):
    saved = make_folder(tmp_path)
    assert detect(str(tmp_path)) == "images"
    tr_x, tr_y, te_x, te_y = load_image_folder(str(tmp_path))
    assert tr_x.shape == (18, 1, 12, 10) and te_x.shape == (6, 1, 12, 10)
    label = {"ant": 0, "bee": 1, "cat": 2}                       # sorted names
    want_test = [(label[c], p) for c in sorted(label) for p in saved[("test", c)]]
    assert te_y.tolist() == [l for l, _ in want_test]            # test kept in order
    for x, (_, p) in zip(te_x, want_test):
        np.testing.assert_array_equal(x[0], p)
    pairs = sorted((int(y), x.tobytes()) for x, y in zip(tr_x, tr_y))
    want = sorted((label[c], p.tobytes()) for c in label for p in saved[("train", c)])
    assert pairs == want                                         # the same images, shuffled
    assert tr_y[:6].tolist() != sorted(tr_y[:6].tolist()) or len(set(tr_y[:6])) > 1


def test_colour_images_are_bgr_as_caffe_decodes_them(tmp_path):
    saved = make_folder(tmp_path, classes=("a", "b"), mode="RGB", test_name="val")
    _, _, te_x, _ = load_image_folder(str(tmp_path))
    assert te_x.shape[1] == 3
    np.testing.assert_array_equal(te_x[0], saved[("val", "a")][0][:, :, ::-1].transpose(2, 0, 1))


def test_images_of_two_sizes_are_named(tmp_path):
    make_folder(tmp_path)
    Image.fromarray(np.zeros((5, 7), np.uint8), "L").save(tmp_path / "train" / "ant" / "z.png")
    with pytest.raises(CaffeError, match=r"images of different sizes: .* is 10x12, .*z.png' "
                                         r"is 7x5 \(W x H\)"):
        load_image_folder(str(tmp_path))


def test_a_test_class_missing_from_train_is_named(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "test" / "dog").mkdir()
    with pytest.raises(CaffeError, match=r"class folder\(s\) dog not in train/"):
        load_image_folder(str(tmp_path))


def test_distill_on_mnist_digits_saved_as_pngs(tmp_path, client, mnist):
    from caffe_compat.data.datasets import load_mnist_dir
    from solver.distill import distill

    tr_x, tr_y, te_x, te_y = load_mnist_dir(mnist)
    root = tmp_path / "digits"
    for split, xs, ys, n in (("train", tr_x, tr_y, 200), ("test", te_x, te_y, 50)):
        for i in range(n):
            folder = root / split / str(int(ys[i]))
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(xs[i, 0], "L").save(folder / f"{i:05d}.png")
    spec = open_dataset(str(root), str(tmp_path / "work"))
    assert (spec.kind, spec.sample_shape, spec.num_train, spec.num_test) == \
        ("images", (1, 28, 28), 200, 50)
    rep = distill([client], "lenet", str(root), str(tmp_path / "run"), labels=False,
                  iterations=20)
    # the client teacher reads the PNGs' pixels as it reads MNIST's: it agrees with their
    # labels (class folder names 0-9 sort as the digits do)
    assert rep["teacher_profile"]["label_agreement"] > 0.9


def test_a_folder_of_no_known_layout_lists_every_layout(tmp_path):
    (tmp_path / "pictures").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8), "L").save(tmp_path / "pictures" / "a.png")
    with pytest.raises(CaffeError) as e:
        detect(str(tmp_path))
    text = str(e.value)
    assert text.startswith(f"--data {str(tmp_path)!r}: none of the layouts tscaffe reads")
    for layout in ("train-images-idx3-ubyte", "data_batch_1.bin", "an image folder (train/ "
                   "and test/ or val/", "two LMDB folders"):
        assert layout in text
