"""Teacher-labelled shifts: the student trains on its images moved by up to ``shift`` pixels.

The teacher labels any image, so the student need not see only the training images
themselves: a copy moved by a pixel or two is as good a question, and the teacher answers
it. ``padded_lmdb(source, folder, shift)`` writes a copy of the fit records with ``shift``
pixels of zeros (the background of MNIST-like data) around each image; the TRAIN data layer
then crops ``crop_size`` = the original size from it - Caffe's own random crop (offsets
uniform in [0, 2 shift] in TRAIN), so the student sees each image at one of
(2 shift + 1)^2 positions, and the teacher's logits of each shifted copy are computed once
and kept in the logit cache like the others (keyed by the copy's bytes). The held-out slice
and the test split are not padded: the student is judged on the images as they are.

Only shifts: a left-right flip is not a valid question for every dataset (digits).
A ``padded.json`` marker (source path, size, modification time, shift) lets a second run
reuse the copy.
"""
import os

import numpy as np

from caffe_compat.errors import CaffeError

from .records import (reusable, source_digest, source_record, uint8_records, with_image,
                      write_marker)


def padded_folder(workdir, source, shift):
    return os.path.join(workdir, "data", f"shift{shift}-{source_digest(source)}")


def pad_images(images, shift):
    """(N, C, H, W) uint8 -> (N, C, H + 2 shift, W + 2 shift), the image in the middle."""
    return np.pad(images, ((0, 0), (0, 0), (shift, shift), (shift, shift)))


def padded_lmdb(source, workdir, shift):
    """The path of ``source``'s records padded by ``shift`` zero pixels per side (made once;
    keys and labels kept)."""
    from caffe_compat.data.convert import LMDBWriter

    shift = int(shift)
    if shift < 1:
        raise CaffeError(f"--shift must be >= 1 to pad, got {shift}")
    folder = padded_folder(workdir, source, shift)
    db, marker = os.path.join(folder, "train_lmdb"), os.path.join(folder, "padded.json")
    record = source_record(source, shift=shift)
    if reusable(marker, record, db) is not None:
        return db
    with LMDBWriter(db) as out:
        for key, datum, image in uint8_records(source, "--shift", "pads"):
            big = pad_images(image[None], shift)[0]
            out.put(key, with_image(datum, big).SerializeToString())
    write_marker(marker, record)
    return db


def shifted_copies(images, shift, transform):
    """Every copy of uint8 ``images`` (N, C, H, W) moved by up to ``shift`` pixels, as the
    TRAIN data layer's random crop of the padded records gives them (float32 blobs in the
    student's ``transform``: (x - mean) * scale): yields ((dy, dx), blob) per offset."""
    from caffe_compat.data.transformer import DataTransformer
    from caffe_compat.proto import caffe_pb2

    param = caffe_pb2.TransformationParameter(scale=transform.get("scale", 1.0),
                                              mean_value=transform.get("mean_value", []))
    plain = DataTransformer(param, phase=caffe_pb2.TEST, seed=0)   # no crop: mean, scale
    big = pad_images(images, shift)
    h, w = images.shape[2:]
    for dy in range(2 * shift + 1):
        for dx in range(2 * shift + 1):
            yield (dy, dx), plain.transform(np.ascontiguousarray(big[:, :, dy:dy + h,
                                                                     dx:dx + w]))


def fill_teacher_cache(teacher, fit_lmdb, shift, transform, chunk=1000):
    """Run ``teacher`` (a CachedTeacher) once on every shifted copy of the fit records not
    in its cache yet, and save the cache: training then only looks logits up. Returns
    (copies seen, teacher runs)."""
    from caffe_compat.data.lmdb_source import LMDBSource, read_record
    from solver.teacher.cache import sample_keys

    cache = teacher.cache
    if cache is None:
        raise CaffeError("--shift and --mix need the teacher's logit cache (it is off)")
    seen = runs = 0
    records = []

    def flush():
        nonlocal seen, runs
        images = np.stack(records)
        for _, blob in shifted_copies(images, shift, transform):
            keys = sample_keys(blob)
            missing = [i for i, f in enumerate(cache.lookup(keys)) if f is None]
            if missing:
                cache.add([keys[i] for i in missing], teacher.ensemble.logits(blob[missing]))
            seen += len(keys)
            runs += len(missing)
        records.clear()

    for key, value in LMDBSource(fit_lmdb).items():
        records.append(read_record(key, value)[0])
        if len(records) == chunk:
            flush()
    if records:
        flush()
    cache.save()
    return seen, runs
