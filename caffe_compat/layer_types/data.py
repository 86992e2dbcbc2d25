"""Data layer: batches of Datum records from an LMDB database (Caffe's DataLayer).

``data_param`` (caffe.proto defaults): ``source`` (the database folder), ``batch_size``,
``rand_skip`` [0] (skip a uniform number in [0, rand_skip) of records at the start),
``backend`` [LEVELDB in caffe.proto; only LMDB is supported here, LEVELDB is a clear error],
``prefetch`` [4] (batches loaded ahead by a background thread).
``transform_param``: see ``caffe_compat.data.transformer``.

Tops: ``data`` (batch_size x C x h x w, float32) and optionally ``label`` (batch_size,).
Records are read in key order and wrap around to the first record at the end. With
batch_size 1 records may differ in size (the top is reshaped per batch, as in Caffe);
otherwise every record must have the shape of the first.
"""
import logging

import numpy as np

from ..data.lmdb_source import LMDBSource, datum_to_array, parse_datum, read_record
from ..proto import caffe_pb2
from ..data.prefetch import Prefetcher
from ..data.transformer import DataTransformer
from ..errors import FormatError, LayerSetupError
from .. import rng as _rng
from ._prefetching import PrefetchingLayer
from .base import register

log = logging.getLogger("caffe_compat.data")
# Caffe 1.0's source locations of these messages (the reference logs).
SRC_OPENED = "db_lmdb.cpp:35"
SRC_SKIPPING = "data_layer.cpp:41"  # not in the reference logs
SRC_OUTPUT_SIZE = "data_layer.cpp:45"
SRC_RESTARTING = "data_layer.cpp:73"

LEVELDB, LMDB = 0, 1


class LMDBBatchReader:
    """Reads and transforms one batch at a time; runs on the prefetch thread."""

    def __init__(self, source, transformer, batch_size, skip, fixed_shape, layer_name):
        self.source = source
        self.transformer = transformer
        self.batch_size = batch_size
        self.fixed_shape = fixed_shape
        self.layer_name = layer_name
        self.pos = skip % len(source)  # index of the next record, for get_state
        self._records = source.cycle(self.pos)

    def __call__(self):
        t = self.transformer
        labels = np.empty(self.batch_size, dtype=np.float32)
        # Raw uint8 records of the expected shape (the usual case) are joined as bytes and
        # viewed as one batch: this runs on the prefetch thread and holds the GIL, so the
        # fewer Python-level steps per record, the less it slows the training thread.
        raw, arrays = [], None
        expected = self.fixed_shape
        nbytes = int(np.prod(expected)) if expected is not None else -1
        datum = caffe_pb2.Datum()
        for i in range(self.batch_size):
            key, value = next(self._records)
            parse_datum(value, key, datum)
            labels[i] = datum.label
            if (arrays is None and not datum.encoded and len(datum.data) == nbytes
                    and (datum.channels, datum.height, datum.width) == expected):
                raw.append(datum.data)
            else:
                if arrays is None:  # leave the fast path: the records so far as arrays
                    arrays = [np.frombuffer(b, np.uint8).reshape(expected) for b in raw]
                arr, _ = datum_to_array(datum, key, t.force_color, t.force_gray)
                if expected is not None and arr.shape != expected:
                    raise FormatError(
                        f"Layer '{self.layer_name}': record {key.decode('utf-8', 'replace')!r} of "
                        f"'{self.source.path}' has shape {_chw(arr.shape)} but the other records "
                        f"have {_chw(expected)}")
                arrays.append(arr)
            # DataLayer::Next: the cursor moves on right after a record is read; passing the
            # last record logs the restart then (not when the next record is requested).
            self.pos = (self.pos + 1) % len(self.source)
            if self.pos == 0:
                log.info("Restarting data prefetching from start.",
                         extra={"caffe_src": SRC_RESTARTING})
        if arrays is None:
            batch = np.frombuffer(b"".join(raw), np.uint8).reshape((self.batch_size,) + expected)
        else:
            batch = np.stack(arrays)
        data = t.transform(batch)
        return data, labels, self.state()

    def state(self):
        """Where the next batch starts: record index and the transformer's generator."""
        return {"pos": int(self.pos), "rng": self.transformer.rng.bit_generator.state}


def _looks_like_lmdb(path):
    # backend left at caffe.proto's default (LEVELDB) but the folder is an LMDB: read it.
    import os

    return os.path.exists(os.path.join(path, "data.mdb"))


def _chw(shape):
    return " x ".join(str(d) for d in shape)


@register("Data")
class DataLayer(PrefetchingLayer):
    MIN_TOP = 1
    MAX_TOP = 2

    def __init__(self, layer_param, phase):
        super().__init__(layer_param, phase)
        # Caffe's DataLayer constructor opens the database (its "Opened lmdb" line comes
        # before the Net's "Creating Layer"); a configuration that setup refuses is left
        # for setup to report.
        self.source = None
        p = layer_param.data_param
        if self._backend_is_lmdb(p) and p.batch_size > 0:
            self._open(p.source)

    @staticmethod
    def _backend_is_lmdb(p):
        return p.backend == LMDB or (not p.HasField("backend") and _looks_like_lmdb(p.source))

    def _open(self, path):
        self.source = LMDBSource(path)
        log.info("Opened lmdb %s", path, extra={"caffe_src": SRC_OPENED})

    def setup(self, bottom, top):
        p = self.layer_param.data_param
        if not self._backend_is_lmdb(p):
            raise LayerSetupError(
                f"Layer '{self.name}' (Data): backend LEVELDB is not supported; convert the "
                "database to LMDB and set data_param {{ backend: LMDB }}")
        if p.batch_size <= 0:
            raise LayerSetupError(f"Layer '{self.name}' (Data): data_param.batch_size must be "
                                  f"positive, got {p.batch_size}")
        self.batch_size = int(p.batch_size)
        if self.source is None:
            self._open(p.source)
        self.transformer = DataTransformer(self.layer_param.transform_param, self.phase)
        skip = 0
        if p.rand_skip:
            skip = int(_rng.get_rng().integers(0, 2**32)) % int(p.rand_skip)
            log.info("Skipping first %d data points.", skip, extra={"caffe_src": SRC_SKIPPING})
        key, value = self.source.first()
        t = self.transformer
        first, _ = read_record(key, value, t.force_color, t.force_gray)
        out_shape = (self.batch_size,) + t.infer_shape(first.shape)
        t._mean_for(*first.shape)  # a mean file that does not fit fails here, not later
        log.info("output data size: %s", ",".join(str(d) for d in out_shape),
                 extra={"caffe_src": SRC_OUTPUT_SIZE})
        top[0].reshape(out_shape)
        if len(top) > 1:
            top[1].reshape(self.batch_size)
        self._fixed = None if self.batch_size == 1 else first.shape
        self._start(skip)

    def _start(self, pos):
        reader = LMDBBatchReader(self.source, self.transformer, self.batch_size, pos,
                                 self._fixed, self.name)
        self._state = reader.state()  # taken before the thread draws anything
        # Caffe's data_param.prefetch counts every batch buffer, the one the net is using
        # included: at most prefetch - 1 batches are read ahead of it. Our Prefetcher reads
        # depth + 1 ahead (its queue plus the batch waiting to enter it). Matching Caffe keeps
        # the "Restarting data prefetching" lines where Caffe's log has them.
        depth = max(int(self.layer_param.data_param.prefetch) - 2, 0)
        self.prefetcher = Prefetcher(reader, depth, name=f"data:{self.name}")

    def get_state(self):
        """The reader position and crop/mirror generator after the last batch handed out
        (JSON-serialisable; the solver keeps it next to a .solverstate for exact resumes)."""
        return {"pos": self._state["pos"], "rng": dict(self._state["rng"])}

    def set_state(self, state):
        """Continue from a ``get_state()``: the batches that followed it come next."""
        self.prefetcher.close()
        self.transformer.rng.bit_generator.state = state["rng"]
        self._start(int(state["pos"]))

    def next_batch(self):
        data, labels, self._state = self.prefetcher.get()
        return data, labels
