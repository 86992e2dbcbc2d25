"""The held-out slice of the training data that the distill run's early stop reads.

The teacher labels every training image, so a slice of them can judge the student's
agreement during training without touching the test split (which the report scores once,
at the end). ``split_training(dataset, folder, count, seed)`` draws ``count`` training
records with a seeded RandomState (indices sorted, in the LMDB's key order) and writes two
LMDBs under ``folder``: ``fit_lmdb`` (the other records: what the student trains on) and
``heldout_lmdb`` (the slice), both keeping the records' bytes and keys. A ``split.json``
written last records the source database (path, size, modification time), the count and
the seed, so a second run on the same data reuses the split.

``heldout_count(n)``: 1/12 of the training set (5,000 of MNIST's 60,000), at most
``MAX_HELDOUT``; a small set holds out at least ``min(MIN_HELDOUT, n // 5)`` images so that
one pass still resolves agreement to a fraction of a percent.
"""
import os
from dataclasses import dataclass

import numpy as np

from caffe_compat.errors import CaffeError

from .records import reusable, source_digest, source_record, write_marker

FRACTION = 12         # one twelfth of the training set ...
MAX_HELDOUT = 5000    # ... at most this many ...
MIN_HELDOUT = 500     # ... at least this many (at most a fifth of a small set)


def heldout_count(num_train, requested=None):
    """How many training images to hold out (``requested``: the user's count)."""
    if requested is not None:
        requested = int(requested)
        if not 0 < requested < num_train:
            raise CaffeError(f"--heldout must be between 1 and {num_train - 1} (the training "
                             f"set has {num_train:,} images), got {requested}")
        return requested
    return min(MAX_HELDOUT, max(num_train // FRACTION, min(MIN_HELDOUT, num_train // 5)))


def heldout_indices(num_train, count, seed):
    """The sorted record indices of the held-out slice (a seeded draw without replacement)."""
    rng = np.random.RandomState(seed)
    return np.sort(rng.choice(num_train, size=count, replace=False))


@dataclass
class Split:
    fit_lmdb: str         # the training records the student is trained on
    heldout_lmdb: str     # the held-out records (test net #0 during training)
    num_fit: int
    num_heldout: int
    seed: int
    indices: np.ndarray   # the held-out records' positions in the source database


def split_folder(workdir, train_lmdb, count, seed):
    """``<workdir>/data/heldout-<source digest>-<count>-seed<seed>``."""
    return os.path.join(workdir, "data",
                        f"heldout-{source_digest(train_lmdb)}-{count}-seed{seed}")


def split_training(train_lmdb, num_train, workdir, count, seed=1):
    """Split ``train_lmdb`` (``num_train`` records) into fit and held-out LMDBs (see the
    module); reused when ``split.json`` matches. Returns a Split."""
    from caffe_compat.data.convert import LMDBWriter
    from caffe_compat.data.lmdb_source import LMDBSource

    folder = split_folder(workdir, train_lmdb, count, seed)
    fit_db, held_db = os.path.join(folder, "fit_lmdb"), os.path.join(folder, "heldout_lmdb")
    marker = os.path.join(folder, "split.json")
    record = source_record(train_lmdb, count=int(count), seed=int(seed))
    indices = heldout_indices(num_train, count, seed)
    split = Split(fit_db, held_db, num_train - count, count, seed, indices)
    if reusable(marker, record, fit_db, held_db) is not None:
        return split
    held = np.zeros(num_train, bool)
    held[indices] = True
    seen = 0
    with LMDBWriter(fit_db) as fit, LMDBWriter(held_db) as out:
        for i, (key, value) in enumerate(LMDBSource(train_lmdb).items()):
            if i >= num_train:
                break
            (out if held[i] else fit).put(key, value)
            seen += 1
    if seen != num_train:
        raise CaffeError(f"{train_lmdb}: expected {num_train} records, read {seen}")
    write_marker(marker, record)
    return split
