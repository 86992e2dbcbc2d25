"""The logit cache: teacher logits memoised per sample, optionally backed by an .npz file,
and ``CachedTeacher``, an ensemble behind it.

The cache maps a sample's bytes (the student's data blob for that sample) to the teacher's
logits, so it is correct for any data order and any batch size; its file is named by the
teacher's key (the model's bytes, the transform and the code applying it: ensemble.py) and
the dataset (solver.teacher.placement), and it records that key, so neither a changed ONNX
file nor another tscaffe ever reuses stale logits: a file given by name (``cache_file``)
that holds another key is refused with a clear error.
"""
import hashlib
import io
import os

import numpy as np

from caffe_compat.io import atomic_write_bytes

from .errors import TeacherError


def sample_keys(data):
    """One 16-byte digest per sample of a batch (the cache's keys)."""
    flat = np.ascontiguousarray(data, dtype=np.float32).reshape(data.shape[0], -1)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


UNRECORDED = ""  # LogitCache.teacher of a file that does not say which teacher wrote it


class LogitCache:
    """Teacher logits memoised per sample, optionally backed by an .npz file.

    The file holds ``keys`` (M, 16) uint8 digests of the samples, ``logits`` (M, C) and
    ``teacher``, the key of the teacher that computed them (``teacher``: TeacherEnsemble.key;
    None: not checked, not recorded); it is written atomically (temp file + rename), so an
    interrupted run never leaves a broken cache behind.
    """

    def __init__(self, path=None, teacher=None):
        self.path = path
        # The key its logits were computed under: None until known, UNRECORDED for a file
        # an older tscaffe wrote.
        self.teacher = None
        self.index = {}
        self.rows = []
        self.dirty = 0
        if path and os.path.exists(path):
            try:
                with np.load(path) as z:
                    keys, logits = z["keys"], z["logits"]
                    self.teacher = str(z["teacher"]) if "teacher" in z.files else UNRECORDED
            except Exception as e:
                raise TeacherError(f"logit cache {path} is unreadable ({e}); delete it") from None
            self.rows = list(logits)
            self.index = {bytes(k): i for i, k in enumerate(keys)}
        self.check(teacher)

    def check(self, teacher):
        """Refuse logits computed under another teacher key than ``teacher`` (None: no
        check): a file's, or those of another teacher sharing the cache in this process."""
        if teacher is None:
            return
        if self.teacher is None:
            self.teacher = teacher
            return
        if self.teacher == UNRECORDED:
            raise TeacherError(f"logit cache {self.path} does not record which teacher and which tscaffe "
                               "computed its logits (an older tscaffe wrote it), so they cannot be trusted "
                               "for this teacher; delete it and the teacher labels the data again")
        if self.teacher != teacher:
            raise TeacherError(f"logit cache {self.path} holds another teacher's logits (written for teacher "
                               f"key {self.teacher[:16]}, this teacher's is {teacher[:16]}: the ONNX file, its input "
                               "transform or output, or the tscaffe computing them differ); delete it or "
                               "give another cache_file")

    def __len__(self):
        return len(self.rows)

    def lookup(self, keys):
        return [self.index.get(k) for k in keys]

    def add(self, keys, logits):
        for k, row in zip(keys, logits):
            if k not in self.index:
                self.index[k] = len(self.rows)
                self.rows.append(np.array(row, dtype=np.float32))
                self.dirty += 1

    def get(self, idx):
        return np.stack([self.rows[i] for i in idx])

    def save(self):
        if not self.path or not self.dirty:
            return
        keys = np.frombuffer(b"".join(self.index.keys()), dtype=np.uint8).reshape(-1, 16)
        order = np.fromiter(self.index.values(), dtype=np.int64, count=len(self.index))
        logits = np.stack(self.rows)[order]
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        buf = io.BytesIO()
        extra = {"teacher": np.array(self.teacher)} if self.teacher not in (None, UNRECORDED) else {}
        np.savez(buf, keys=keys, logits=logits, **extra)
        atomic_write_bytes(self.path, buf.getvalue())
        self.dirty = 0


_OPEN_CACHES = {}


def open_cache(path, teacher=None):
    """One LogitCache per file in a process, so the TRAIN and TEST nets' teacher layers
    share entries and never overwrite each other's saves; ``teacher``: the key its logits
    must have been computed under (LogitCache.check)."""
    if path is None:
        return LogitCache(None, teacher)
    key = os.path.abspath(path)
    if key not in _OPEN_CACHES:
        _OPEN_CACHES[key] = LogitCache(key, teacher)
    else:
        _OPEN_CACHES[key].check(teacher)
    return _OPEN_CACHES[key]


def forget_open_caches():
    """Drop the process's open caches (the next ``open_cache`` reads the file again, as a
    new process would)."""
    _OPEN_CACHES.clear()


class CachedTeacher:
    """An ensemble behind a logit cache: ``logits(batch)`` runs the teacher only on misses.
    ``num_classes``: the ensemble's output width where the builder checked it."""

    def __init__(self, ensemble, cache=None, num_classes=None):
        self.ensemble = ensemble
        self.cache = cache
        self.num_classes = num_classes

    def logits(self, data):
        if self.cache is None:
            return self.ensemble.logits(data)
        keys = sample_keys(data)
        found = self.cache.lookup(keys)
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            fresh = self.ensemble.logits(data[missing])
            self.cache.add([keys[i] for i in missing], fresh)
            found = self.cache.lookup(keys)
        elif self.cache.dirty:
            # A batch entirely from the cache after new entries: a pass over the data has
            # wrapped around, a good moment to persist what was learned.
            self.cache.save()
        return self.cache.get(found)

    def save(self):
        if self.cache is not None:
            self.cache.save()
