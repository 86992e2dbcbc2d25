"""Reading LMDB databases of ``Datum`` records, as Caffe's ``db_lmdb`` and ``io.cpp`` do.

* ``LMDBSource(path)`` opens a database read-only (``lock=False``: many readers, no lock
  file writes, so Caffe's own databases on read-only media work) and walks the records in key
  order, wrapping around to the first record at the end as Caffe's Data layer does.
* ``datum_to_array(datum, ...)`` turns one Datum into a channel-major array: raw ``data``
  bytes as uint8 (C, H, W), ``float_data`` as float32 (C, H, W), or an encoded image (PNG,
  JPEG...) decoded with Pillow into OpenCV's BGR channel order.

Decoding follows Caffe's ``DecodeDatumToCVMatNative`` (no flag: the stored image's own
channels; a 1-channel PNG stays gray) and ``DecodeDatumToCVMat(datum, is_color)`` (with
``force_color`` a gray image becomes 3 equal BGR channels; with ``force_gray`` a color image
becomes 1 luma channel). Pillow's ITU-R 601 luma can differ by one grey level from the
libpng/OpenCV conversion used by Caffe; JPEG decoders may also differ in rounding.
"""
import io
import os
import threading

import numpy as np

from ..errors import FormatError
from ..proto import caffe_pb2


# py-lmdb refuses to open one environment twice in a process, yet a TRAIN and a TEST Data
# layer often read the same database: share one read-only environment per folder.
_ENVS = {}
_ENVS_LOCK = threading.Lock()


def open_env(path):
    """A shared read-only ``lmdb.Environment`` for an existing database folder.

    A missing folder (or one without data.mdb) is a FormatError naming the path.
    """
    import lmdb

    path = str(path)
    if not os.path.isdir(path) or not os.path.exists(os.path.join(path, "data.mdb")):
        raise FormatError(f"LMDB database not found: '{path}' (expected a folder with data.mdb)")
    real = os.path.realpath(path)
    with _ENVS_LOCK:
        env = _ENVS.get(real)
        if env is None:
            try:
                env = lmdb.open(real, readonly=True, lock=False, readahead=False,
                                max_readers=126, subdir=True)
            except lmdb.Error as e:
                raise FormatError(f"cannot open LMDB database '{path}': {e}") from None
            _ENVS[real] = env
        return env


def forget_env(path):
    """Close the shared environment of ``path`` (before the folder is replaced or removed)."""
    with _ENVS_LOCK:
        env = _ENVS.pop(os.path.realpath(str(path)), None)
    if env is not None:
        env.close()


class LMDBSource:
    """Key-ordered, wrapping access to the records of one LMDB database."""

    def __init__(self, path):
        self.path = str(path)
        self.env = open_env(self.path)
        self.num_entries = int(self.env.stat()["entries"])
        if self.num_entries == 0:
            raise FormatError(f"LMDB database '{self.path}' holds no records")

    def __len__(self):
        return self.num_entries

    def first(self):
        """(key, value) of the first record in key order."""
        with self.env.begin(buffers=False) as txn:
            cur = txn.cursor()
            cur.first()
            return cur.key(), cur.value()

    def cycle(self, skip=0, on_restart=None):
        """Yield (key, value) forever in key order, starting ``skip`` records in.

        At the end of the database it starts again from the first record and calls
        ``on_restart()`` (Caffe logs "Restarting data prefetching from start.").
        The generator owns its read transaction: use it from one thread only.
        """
        txn = self.env.begin(buffers=False)
        try:
            cur = txn.cursor()
            cur.first()
            for _ in range(skip):
                if not cur.next():
                    cur.first()
            while True:
                yield cur.key(), cur.value()
                if not cur.next():
                    if on_restart is not None:
                        on_restart()
                    cur.first()
        finally:
            txn.abort()

    def items(self):
        """Every (key, value) once, in key order."""
        with self.env.begin(buffers=False) as txn:
            for key, value in txn.cursor():
                yield key, value

    def keys(self):
        """Every key once, in key order (values are not read)."""
        with self.env.begin(buffers=False) as txn:
            return list(txn.cursor().iternext(keys=True, values=False))

    def span(self, first_key, count):
        """``count`` records in key order from ``first_key`` on (a shard of the database)."""
        with self.env.begin(buffers=False) as txn:
            cur = txn.cursor()
            if not cur.set_key(first_key):
                raise FormatError(f"LMDB database '{self.path}' has no record {_k(first_key)}")
            for _ in range(count):
                yield cur.key(), cur.value()
                if not cur.next():
                    break

    def close(self):
        """Nothing to release: the environment is shared (see ``forget_env``)."""


def parse_datum(value, key=b"?", datum=None):
    """A serialized Datum -> the message (parsed into ``datum`` when given, to reuse it)."""
    if datum is None:
        datum = caffe_pb2.Datum()
    try:
        datum.ParseFromString(value)
    except Exception as e:  # protobuf's DecodeError has no stable import path
        raise FormatError(f"record {_k(key)}: not a serialized Datum ({e})") from None
    return datum


def _k(key):
    return repr(key.decode("utf-8", "replace") if isinstance(key, bytes) else key)


def decode_image_bytes(data, key=b"?", force_color=False, force_gray=False):
    """PNG/JPEG bytes -> uint8 (C, H, W), BGR channel order for color images."""
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as e:
        raise FormatError(f"record {_k(key)}: corrupt or unreadable encoded image ({e})") from None
    return pil_to_chw(img, force_color=force_color, force_gray=force_gray)


def pil_to_chw(img, force_color=False, force_gray=False):
    """A Pillow image -> uint8 (C, H, W) the way OpenCV's imread/imdecode lays it out.

    No flag: gray stays 1 channel, images with alpha give 4 (BGRA), others 3 (BGR).
    force_color: always 3 channels (BGR); force_gray: always 1 channel.
    """
    if force_gray:
        img = img.convert("L")
    elif force_color:
        img = img.convert("RGB")
    elif img.mode in ("1", "L", "I", "I;16", "I;16B", "F"):
        img = img.convert("L")
    elif img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img = img.convert("RGBA")
    else:
        img = img.convert("RGB")
    a = np.asarray(img, dtype=np.uint8)
    if a.ndim == 2:
        return a[None].copy()
    a = a.transpose(2, 0, 1)
    # RGB(A) -> BGR(A): OpenCV's channel order.
    order = [2, 1, 0, 3][: a.shape[0]]
    return np.ascontiguousarray(a[order])


def datum_to_array(datum, key=b"?", force_color=False, force_gray=False):
    """One Datum -> (array (C, H, W), label). uint8 for bytes/encoded, float32 for float_data."""
    if datum.encoded:
        return decode_image_bytes(datum.data, key, force_color, force_gray), int(datum.label)
    shape = (int(datum.channels), int(datum.height), int(datum.width))
    count = shape[0] * shape[1] * shape[2]
    if len(datum.data) > 0:
        if len(datum.data) != count:
            raise FormatError(
                f"record {_k(key)}: Datum holds {len(datum.data)} bytes but its shape "
                f"{shape[0]} x {shape[1]} x {shape[2]} needs {count}")
        arr = np.frombuffer(datum.data, dtype=np.uint8).reshape(shape)
    else:
        if len(datum.float_data) != count:
            raise FormatError(
                f"record {_k(key)}: Datum holds {len(datum.float_data)} float_data values but "
                f"its shape {shape[0]} x {shape[1]} x {shape[2]} needs {count}")
        arr = np.asarray(datum.float_data, dtype=np.float32).reshape(shape)
    return arr, int(datum.label)


def read_record(key, value, force_color=False, force_gray=False):
    """(key, serialized Datum) -> (array (C, H, W), label)."""
    return datum_to_array(parse_datum(value, key), key, force_color, force_gray)
