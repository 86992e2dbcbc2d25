"""Converters that write LMDBs the way Caffe's tools do, and compute_image_mean.

* ``convert_mnist``    = convert_mnist_data: keys ``"%08d"``, Datum channels 1, rows x cols,
  raw bytes, label.
* ``convert_cifar10``  = convert_cifar_data: ``cifar10_train_lmdb`` (data_batch_1..5) and
  ``cifar10_test_lmdb`` (test_batch), keys ``"%05d" % (file_index * 10000 + record)``, Datum
  channels 3, 32 x 32, the R, G, B planes as stored, label. Unlike Caffe's tool (which always
  writes 10000 records per file) only the records a file holds are written.
* ``convert_imageset`` = convert_imageset: keys ``"%08d_%s" % (line, file)``; raw Datums are
  BGR channel-major with ``encoded: false``; ``encoded`` stores the file bytes themselves when
  the image needs no change (not resized, color as requested, extension matching), otherwise
  the image re-encoded (PNG/JPEG via Pillow). Resizing reproduces OpenCV's INTER_LINEAR
  (``cv_resize.resize_linear``) bit for bit, as Caffe's ``cv::resize`` gives it.
* ``compute_mean``     = compute_image_mean: the mean over every record, summed in float32
  record by record and divided by the count in float32, as Caffe does, written as a legacy
  1 x C x H x W BlobProto.

Databases are built in a temporary folder next to the destination and renamed into place
when complete, so a crash never leaves a half-written database under the final name.
"""
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import CaffeError, FormatError
from . import datasets
from .cv_resize import resize_linear
from .lmdb_source import LMDBSource, forget_env, parse_datum, datum_to_array

log = logging.getLogger("caffe_compat.data")

COMMIT_EVERY = 1000  # Caffe's tools commit a transaction every 1000 records
PROGRESS_FROM = 5000  # show a progress bar for conversions at least this long


def _datum():
    from ..proto import caffe_pb2

    return caffe_pb2.Datum()


def _progress(total, desc):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rec", disable=None if total >= PROGRESS_FROM else True,
                leave=False)


class LMDBWriter:
    """Write records to a new LMDB at ``path``; atomic: temp folder, then rename.

    Use as a context manager; ``put(key, value)`` buffers, a transaction is committed every
    ``COMMIT_EVERY`` records, and the map size doubles whenever the database outgrows it.
    """

    def __init__(self, path, map_size=1 << 26):
        self.path = Path(path)
        if self.path.exists():
            raise CaffeError(f"output database '{self.path}' already exists; remove it first "
                             "(Caffe's tools refuse to overwrite too)")
        parent = self.path.parent
        if not parent.is_dir():
            raise CaffeError(f"output folder '{parent}' does not exist")
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=parent))
        import lmdb

        self._lmdb = lmdb
        self.env = lmdb.open(str(self.tmp), map_size=map_size, subdir=True, lock=True)
        self.pending = []
        self.count = 0

    def put(self, key, value):
        self.pending.append((key if isinstance(key, bytes) else key.encode(), value))
        if len(self.pending) >= COMMIT_EVERY:
            self.commit()

    def commit(self):
        while self.pending:
            try:
                with self.env.begin(write=True) as txn:
                    for key, value in self.pending:
                        txn.put(key, value)
                break
            except self._lmdb.MapFullError:
                # The transaction was aborted: grow the map and write the batch again.
                self.env.set_mapsize(self.env.info()["map_size"] * 2)
        self.count += len(self.pending)
        self.pending = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.commit()
                self.env.sync(True)
            self.env.close()
            if exc_type is None:
                forget_env(self.path)
                os.chmod(self.tmp, 0o755)  # mkdtemp makes it private; Caffe's tool: 0744
                os.replace(self.tmp, self.path)
        finally:
            if self.tmp.exists():
                shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def write_datum_lmdb(images, labels, db_path, desc="convert"):
    """uint8 (N, C, H, W) images and N labels -> a new LMDB of raw Datums, keys "%08d"
    (what convert_mnist_data writes; also the way to put in-memory arrays into a database)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(labels):
        raise CaffeError(f"write_datum_lmdb: need uint8 N x C x H x W images and N labels, got "
                         f"{images.dtype} {images.shape} and {len(labels)} labels")
    n, c, h, w = images.shape
    datum = _datum()
    datum.channels, datum.height, datum.width = c, h, w
    with LMDBWriter(db_path) as db, _progress(n, desc) as bar:
        for i in range(n):
            datum.data = images[i].tobytes()
            datum.label = int(labels[i])
            db.put(b"%08d" % i, datum.SerializeToString())
            bar.update(1)
    return n


def convert_mnist(images_path, labels_path, db_path):
    """MNIST / Fashion-MNIST IDX files -> LMDB, as convert_mnist_data. Returns the count."""
    images, labels = datasets.read_idx_pair(images_path, labels_path)
    n, _, rows, cols = images.shape
    log.info("A total of %d items.", n)
    log.info("Rows: %d Cols: %d", rows, cols)
    return write_datum_lmdb(images, labels, db_path, "convert mnist")


def convert_cifar10(input_dir, output_dir):
    """CIFAR-10 batches (binary or python version) -> OUTPUT/cifar10_train_lmdb and
    cifar10_test_lmdb."""
    train_files, test_file = datasets.cifar10_batches(input_dir)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    datum = _datum()
    datum.channels, datum.height, datum.width = 3, datasets.CIFAR_SIZE, datasets.CIFAR_SIZE
    counts = {}
    splits = [("train", train_files), ("test", [test_file])]
    for split, files in splits:
        parts = [datasets.read_cifar10_batch(f) for f in files]
        total = sum(len(p[1]) for p in parts)
        log.info("Writing %s data", "Training" if split == "train" else "Testing")
        with LMDBWriter(out / f"cifar10_{split}_lmdb") as db, \
                _progress(total, f"convert cifar10 {split}") as bar:
            for file_index, (images, labels) in enumerate(parts):
                for record in range(len(labels)):
                    datum.label = int(labels[record])
                    datum.data = images[record].tobytes()
                    db.put(b"%05d" % (file_index * 10000 + record), datum.SerializeToString())
                    bar.update(1)
        counts[split] = total
    return counts


def read_list_file(listfile):
    """Lines "path label" (the label after the last space) -> [(path, label)]."""
    try:
        text = Path(listfile).read_text()
    except FileNotFoundError:
        raise FormatError(f"list file not found: '{listfile}'") from None
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        name, sep, label = line.rpartition(" ")
        try:
            if not sep or not name:
                raise ValueError
            entries.append((name, int(label)))
        except ValueError:
            raise FormatError(f"{listfile}:{lineno}: expected 'path label', got {line!r}") \
                from None
    if not entries:
        raise FormatError(f"list file '{listfile}' is empty: it lists no images")
    return entries


def read_image(path, height=0, width=0, is_color=True):
    """Caffe's ReadImageToCVMat: decoded with Pillow to uint8 (C, H, W), BGR or gray, then
    resized as OpenCV's INTER_LINEAR does (``resize_linear``) when both ``height`` and
    ``width`` are positive. Returns None for a missing or unreadable file."""
    from PIL import Image

    from .lmdb_source import pil_to_chw

    try:
        img = Image.open(path)
        img.load()
    except Exception as e:
        log.error("Could not open or find file %s (%s)", path, e)
        return None
    chw = pil_to_chw(img.convert("RGB" if is_color else "L"))
    if height > 0 and width > 0:
        # Caffe resizes the decoded BGR/gray cv::Mat; channels are resized independently.
        hwc = resize_linear(chw.transpose(1, 2, 0), height, width)
        chw = np.ascontiguousarray(hwc.transpose(2, 0, 1))
    return chw


def _ext_matches(filename, enc):
    ext = filename.rsplit(".", 1)[-1].lower()
    return ext == enc or (enc == "jpg" and ext == "jpeg")


def encode_chw(chw, enc):
    """uint8 (C, H, W) BGR or gray -> image file bytes of type ``enc`` (png, jpg...)."""
    import io

    from PIL import Image

    a = chw[0] if chw.shape[0] == 1 else chw[::-1].transpose(1, 2, 0)  # BGR -> RGB
    fmt = {"jpg": "JPEG", "jpeg": "JPEG"}.get(enc, enc.upper())
    buf = io.BytesIO()
    try:
        Image.fromarray(np.ascontiguousarray(a)).save(buf, format=fmt, **(
            {"quality": 95} if fmt == "JPEG" else {}))
    except (KeyError, ValueError, OSError) as e:
        raise CaffeError(f"cannot encode images as '{enc}': {e}") from None
    return buf.getvalue()


def convert_imageset(root, listfile, db_path, resize_height=0, resize_width=0, gray=False,
                     shuffle=False, encoded=False, encode_type="", check_size=False):
    """An image list -> LMDB, as convert_imageset. Returns (written, skipped file names)."""
    from .. import rng as _rng

    entries = read_list_file(listfile)
    if shuffle:
        log.info("Shuffling data")
        order = _rng.get_rng().permutation(len(entries))
        entries = [entries[i] for i in order]
    log.info("A total of %d images.", len(entries))
    is_color = not gray
    skipped, data_size = [], None
    datum = _datum()
    with LMDBWriter(db_path) as db, _progress(len(entries), "convert imageset") as bar:
        for line_id, (name, label) in enumerate(entries):
            bar.update(1)
            path = str(root) + name  # Caffe concatenates root_folder and the listed name
            img = read_image(path, resize_height, resize_width, is_color)
            if img is None:
                skipped.append(name)
                continue
            datum.Clear()
            enc = encode_type or (name.rsplit(".", 1)[-1].lower() if encoded else "")
            if encoded:
                if ((img.shape[0] == 3) == is_color and not resize_height and not resize_width
                        and _ext_matches(name, enc)):
                    datum.data = Path(path).read_bytes()  # the file itself, byte for byte
                else:
                    datum.data = encode_chw(img, enc)
                datum.label = label
                datum.encoded = True
            else:
                datum.channels, datum.height, datum.width = img.shape
                datum.data = img.tobytes()
                datum.label = label
                datum.encoded = False
            if check_size:
                if data_size is None:
                    data_size = len(datum.data)
                elif len(datum.data) != data_size:
                    raise FormatError(f"'{name}': incorrect data field size {len(datum.data)} "
                                      f"(the first image has {data_size})")
            db.put(b"%08d_%s" % (line_id, name.encode()), datum.SerializeToString())
    if skipped:
        log.warning("%d file(s) could not be read and were skipped", len(skipped))
    return len(entries) - len(skipped), skipped


def compute_mean(db_path):
    """The mean image of an LMDB of Datum -> float32 (C, H, W), as compute_image_mean."""
    source = LMDBSource(db_path)
    total, shape = None, None
    with _progress(len(source), "compute mean") as bar:
        for key, value in source.items():
            datum = parse_datum(value, key)
            arr, _ = datum_to_array(datum, key)  # encoded: decoded natively, as Caffe does
            if total is None:
                shape = arr.shape
                total = np.zeros(shape, np.float32)
            elif arr.shape != shape:
                raise FormatError(f"record {key.decode('utf-8', 'replace')!r} of '{db_path}' has "
                                  f"shape {arr.shape} but the first record has {shape}")
            total += arr  # float32 running sum, record by record, as Caffe's float BlobProto
            bar.update(1)
    return total / np.float32(len(source))


def write_mean_binaryproto(path, mean):
    """``mean`` (C, H, W) -> a legacy BlobProto (num 1, channels, height, width) written
    atomically, the form compute_image_mean writes."""
    from ..io import atomic_write_bytes
    from ..proto import caffe_pb2

    mean = np.asarray(mean, dtype=np.float32)
    blob = caffe_pb2.BlobProto()
    blob.num = 1
    blob.channels, blob.height, blob.width = mean.shape
    blob.data.extend(mean.ravel().tolist())
    atomic_write_bytes(path, blob.SerializeToString())
