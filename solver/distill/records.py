"""What the distill job's copies of its training records share (heldout.py splits them,
shift.py pads them, mix.py mixes them): the folder named after the source, reading uint8
images out of an LMDB and putting new ones into a record, and a ``.json`` marker beside a
copy that says whether a second run may reuse it."""
import hashlib
import json
import os
import shutil

import numpy as np

from caffe_compat.errors import CaffeError


def source_digest(source):
    """8 hex digits naming ``source`` (its absolute path) in a copy's folder name."""
    return hashlib.sha256(os.path.abspath(source).encode()).hexdigest()[:8]


def uint8_records(source, flag, verb):
    """Yield (key, Datum, image (C, H, W) uint8) of every record of the LMDB ``source``; a
    record of another dtype is refused as ``{source}: {flag} {verb} uint8 images, ...``."""
    from caffe_compat.data.lmdb_source import LMDBSource, datum_to_array, parse_datum

    for key, value in LMDBSource(source).items():
        datum = parse_datum(value, key)
        image = datum_to_array(datum, key)[0]
        if image.dtype != np.uint8:
            raise CaffeError(f"{source}: {flag} {verb} uint8 images, record {key!r} holds "
                             f"{image.dtype}")
        yield key, datum, image


def with_image(datum, image):
    """``datum`` now holding the uint8 ``image`` (C, H, W), raw (not encoded); its label
    and other fields kept."""
    datum.channels, datum.height, datum.width = image.shape
    datum.data = image.tobytes()
    datum.encoded = False
    del datum.float_data[:]
    return datum


def source_record(source, **settings):
    """The marker's identity of a copy of ``source``: its path, size and modification time,
    and the ``settings`` it was made with."""
    st = os.stat(os.path.join(source, "data.mdb"))
    return dict({"source": os.path.abspath(source), "size": st.st_size,
                 "mtime_ns": st.st_mtime_ns}, **settings)


def reusable(marker, record, *dbs):
    """The saved marker when it matches ``record`` (its other keys, such as counts, are
    results, not settings); else None, after removing the stale marker and the copies
    ``dbs`` and making the marker's folder."""
    from caffe_compat.data.lmdb_source import forget_env

    if os.path.exists(marker):
        try:
            with open(marker) as f:
                saved = json.load(f)
        except ValueError:
            saved = {}
        if {k: saved.get(k) for k in record} == record:
            return saved
        os.remove(marker)
    for db in dbs:
        forget_env(db)
        shutil.rmtree(db, ignore_errors=True)
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    return None


def write_marker(marker, record):
    """Write the marker atomically (temp file + rename), after the copy it describes."""
    from caffe_compat.io import atomic_write_bytes

    atomic_write_bytes(marker, json.dumps(record).encode())
