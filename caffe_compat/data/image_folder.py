"""A folder of image files as ``--data``: ``train/`` and ``test/`` (or ``val/``), each with
one subfolder per class (torchvision's ImageFolder layout, Keras'
``image_dataset_from_directory``).

- Labels: the class folders of ``train/`` sorted by name (torchvision's order); a class of
  ``test/`` that ``train/`` lacks is an error.
- Pixels: decoded as Caffe's convert_imageset decodes them (``convert.read_image``: uint8
  (C, H, W), BGR for colour), one channel when every image is single-channel (grayscale
  PNGs such as MNIST's), else three.
- One size: images of different sizes are an error naming two of them (``tscaffe convert
  imageset --resize_height/--resize_width`` makes an LMDB of one size from a list file).
- Order: the training images are shuffled once with a fixed seed, as convert_imageset's
  ``--shuffle`` is used for, because Caffe's Data layer reads the LMDB in key order and
  class-by-class batches would train one class at a time. The test images keep their order.
"""
import os

import numpy as np

from ..errors import FormatError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
              ".pgm", ".pbm")
TEST_NAMES = ("test", "val")
SHUFFLE_SEED = 0
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F", "P;gray")


def _classes(split):
    return sorted(d for d in os.listdir(split)
                  if os.path.isdir(os.path.join(split, d)) and not d.startswith("."))


def _images(folder):
    return sorted(f for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTS) and not f.startswith("."))


def image_folder_splits(path):
    """(train folder, test folder) when ``path`` has the layout, else None."""
    train = os.path.join(path, "train")
    test = next((os.path.join(path, n) for n in TEST_NAMES
                 if os.path.isdir(os.path.join(path, n))), None)
    if not os.path.isdir(train) or test is None:
        return None
    classes = _classes(train)
    if not classes or not any(_images(os.path.join(train, c)) for c in classes):
        return None
    return train, test


def _listing(split, classes):
    """[(file, label)] of ``split``, class by class, files sorted."""
    index = {c: i for i, c in enumerate(classes)}
    found = _classes(split)
    unknown = [c for c in found if c not in index]
    if unknown:
        raise FormatError(f"'{split}': class folder(s) {', '.join(unknown)} not in train/ "
                          f"(its classes: {', '.join(classes)})")
    return [(os.path.join(split, c, f), index[c]) for c in found
            for f in _images(os.path.join(split, c))]


def _is_gray(path):
    from PIL import Image

    with Image.open(path) as img:
        return img.mode in _GRAY_MODES


def _read(entries, color):
    from .convert import read_image

    images, first = [], None
    for path, _ in entries:
        chw = read_image(path, is_color=color)
        if chw is None:
            raise FormatError(f"'{path}': not an image Pillow can read")
        if first is None:
            first = (path, chw.shape)
        elif chw.shape != first[1]:
            raise FormatError(
                f"images of different sizes: '{first[0]}' is {first[1][2]}x{first[1][1]}, "
                f"'{path}' is {chw.shape[2]}x{chw.shape[1]} (W x H); --data needs one size "
                f"(tscaffe convert imageset --resize_height H --resize_width W makes an LMDB "
                f"of one size from a list file)")
        images.append(chw)
    return np.stack(images), np.array([label for _, label in entries], np.int32)


def load_image_folder(path):
    """(train images, train labels, test images, test labels) of the image folder ``path``
    (see the module): uint8 (N, C, H, W) and int32."""
    splits = image_folder_splits(path)
    if splits is None:
        raise FormatError(f"'{path}': not an image folder (train/ and test/ or val/, one "
                          f"subfolder of images per class)")
    train, test = splits
    classes = _classes(train)
    train_entries, test_entries = _listing(train, classes), _listing(test, classes)
    if not test_entries:
        raise FormatError(f"'{test}': no images in its class folders")
    color = not all(_is_gray(p) for p, _ in train_entries + test_entries)
    train_x, train_y = _read(train_entries, color)
    test_x, test_y = _read(test_entries, color)
    if train_x.shape[1:] != test_x.shape[1:]:
        raise FormatError(f"train/ images are {train_x.shape[3]}x{train_x.shape[2]}, test "
                          f"images {test_x.shape[3]}x{test_x.shape[2]} (W x H); --data needs "
                          f"one size")
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(train_y))
    return train_x[order], train_y[order], test_x, test_y
