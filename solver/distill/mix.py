"""Teacher-labelled mixes: a transfer set beyond the training images (``--mix K``).

The teacher answers any input, so the student can also be asked about the images between
two training images: ``round(lam * a + (1 - lam) * b)`` with ``lam ~ Beta(alpha, alpha)``
(mixup's inputs, Zhang et al. 2018, used here without labels: the teacher labels each mix,
as Stanton et al. 2021 did to raise a student's agreement). ``mixed_lmdb(source, folder,
copies, seed)`` writes the fit records and ``copies`` mixes of each, every mix pairing a
record with a partner drawn at random among the fit records, all in one seeded shuffled key
order (Caffe's data layer reads an LMDB in key order, so the mixes are spread over each
pass). The teacher's logits of every record are computed once, before training, into its
logit cache (shift.fill_teacher_cache). The held-out slice and the test split are not
mixed: the student is judged on real images.

A mix carries the label of its larger part (a ``Datum`` holds one label); labels never
train a student on mixes (``--mix`` refuses a hard-label loss). A ``mixed.json`` marker
(source path, size, modification time, copies, seed, alpha) lets a second run reuse them.
"""
import os

import numpy as np

from caffe_compat.errors import CaffeError

from .records import (reusable, source_digest, source_record, uint8_records, with_image,
                      write_marker)

ALPHA = 1.0   # Beta(1, 1): lam uniform in [0, 1]


def mixed_folder(workdir, source, copies, seed):
    return os.path.join(workdir, "data", f"mix{copies}-seed{seed}-{source_digest(source)}")


def mix_images(a, b, lam):
    """uint8 images ``a`` and ``b`` (N, C, H, W) mixed: image n becomes
    round(lam[n] * a[n] + (1 - lam[n]) * b[n]), rounded half to even, computed in float64."""
    w = np.asarray(lam, dtype=np.float64).reshape(-1, 1, 1, 1)
    return np.rint(w * a.astype(np.float64) + (1.0 - w) * b.astype(np.float64)).astype(np.uint8)


def mix_plan(n, copies, seed, alpha=ALPHA):
    """(partners (copies, n) int, lam (copies, n) float64, order): copy c of record i pairs
    it with partners[c, i] (never itself when n > 1) by lam[c, i]; ``order`` is a permutation
    of the n * (copies + 1) records, 0..n-1 the originals, then copy c's at (c + 1) n + i."""
    rng = np.random.default_rng(seed)
    partners = np.empty((copies, n), dtype=np.int64)
    lam = np.empty((copies, n), dtype=np.float64)
    for c in range(copies):
        if n > 1:
            p = rng.integers(0, n - 1, size=n)
            partners[c] = p + (p >= np.arange(n))   # skip the record itself
        else:
            partners[c] = 0
        lam[c] = rng.beta(alpha, alpha, size=n)
    return partners, lam, rng.permutation(n * (copies + 1))


# Mixes are made this many records at a time (bounded float64 temporaries, whatever the set's size).
CHUNK = 256


def _read_fit(source):
    """(serialized Datums, images (N, C, H, W) uint8) of the fit records: the records stay
    serialized (a parsed Datum costs several times its bytes), the images one array."""
    values, images = [], []
    for n, (_, datum, image) in enumerate(uint8_records(source, "--mix", "mixes")):
        if images and image.shape != images[0].shape:
            raise CaffeError(f"{source}: --mix needs images of one size, found "
                             f"{images[0].shape} and {image.shape} (record {n})")
        images.append(image)
        values.append(datum.SerializeToString())
    return values, np.stack(images)   # an empty database was refused by its reader


def mixed_lmdb(source, workdir, copies, seed, alpha=ALPHA):
    """(path, records) of ``source``'s records with ``copies`` mixes of each (see the
    module), made once. The mixes are computed ``CHUNK`` records of the key order at a time
    as they are written, so the memory held is the fit images and their serialized records
    (CIFAR-10: about 300 MB), not the mixes."""
    from caffe_compat.data.convert import LMDBWriter
    from caffe_compat.proto import caffe_pb2

    copies = int(copies)
    if copies < 1:
        raise CaffeError(f"--mix must be >= 1 to mix, got {copies}")
    folder = mixed_folder(workdir, source, copies, seed)
    db, marker = os.path.join(folder, "train_lmdb"), os.path.join(folder, "mixed.json")
    record = source_record(source, copies=copies, seed=int(seed), alpha=float(alpha))
    saved = reusable(marker, record, db)
    if saved is not None:
        return db, saved["records"]
    values, images = _read_fit(source)
    n = len(images)
    partners, lam, order = mix_plan(n, copies, seed, alpha)
    width = len(str(len(order)))
    with LMDBWriter(db) as out:
        for lo in range(0, len(order), CHUNK):
            c, i = np.divmod(order[lo:lo + CHUNK], n)
            mixed = c > 0
            cm, im = c[mixed] - 1, i[mixed]
            mixes = iter(mix_images(images[im], images[partners[cm, im]], lam[cm, im]))
            for rank, (cj, ij) in enumerate(zip(c.tolist(), i.tolist()), lo):
                if cj == 0:
                    value = values[ij]
                else:
                    datum = caffe_pb2.Datum()
                    datum.ParseFromString(values[ij] if lam[cj - 1, ij] >= 0.5 else
                                          values[partners[cj - 1, ij]])
                    value = with_image(datum, next(mixes)).SerializeToString()
                out.put(f"{rank:0{width}d}", value)
    record["records"] = len(order)
    write_marker(marker, record)
    return db, len(order)
