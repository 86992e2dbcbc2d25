"""HDF5Data: rows of HDF5 datasets, one dataset per top (Caffe's HDF5DataLayer).

hdf5_data_param (caffe.proto defaults): ``source`` (a text file listing HDF5 file names,
separated by whitespace; names relative to the working directory, as in Caffe);
``batch_size`` (required here, > 0); ``shuffle`` false. A transform_param is refused ("does
not transform data").

Each top reads the dataset of its own name (``top: "data"`` reads ``/data``; float or
integer datasets, read as float32, at least 1 axis, all with the same first dimension).
Top k has shape (batch_size,) + dataset.shape[1:]. Rows are served in order, file after
file, wrapping around to the first file after the last; a batch may span files. With
``shuffle`` the file order is shuffled at setup and at each wrap-around, and the row order
within a file each time the file is (re)loaded and at the end of each pass through it: all
of one file's rows come out before the next file's. Needs h5py.
"""
import os

import numpy as np

from .. import rng as _rng
from ._hdf5 import import_h5py
from .base import Layer, register


@register("HDF5Data")
class HDF5DataLayer(Layer):
    EXACT_NUM_BOTTOM = 0
    MIN_TOP = 1

    def setup(self, bottom, top):
        if self.layer_param.HasField("transform_param"):
            raise self.error("HDF5Data does not transform data (remove transform_param)")
        p = self.layer_param.hdf5_data_param
        self.h5py = import_h5py(self)
        if p.batch_size <= 0:
            raise self.error(f"hdf5_data_param.batch_size must be positive, got {p.batch_size}")
        self.batch_size, self.shuffle = int(p.batch_size), bool(p.shuffle)
        self.tops = list(self.layer_param.top)
        try:
            with open(p.source) as f:
                self.files = f.read().split()
        except OSError as e:
            raise self.error(f"Failed to open source file '{p.source}' (hdf5_data_param.source): "
                             f"{e.strerror}") from None
        if not self.files:
            raise self.error(f"Must have at least 1 HDF5 filename listed in '{p.source}'")
        self.file_order = np.arange(len(self.files))
        if self.shuffle:
            _rng.get_rng().shuffle(self.file_order)
        self.current_file = 0
        self._load(self.files[self.file_order[0]])
        self.current_row = 0
        for t, a in zip(top, self.arrays):
            t.reshape((self.batch_size,) + a.shape[1:])

    def _load(self, path):
        h5py = self.h5py
        if not os.path.exists(path):
            raise self.error(f"Failed opening HDF5 file: '{path}' (listed in {self.layer_param.hdf5_data_param.source})")
        arrays = []
        try:
            with h5py.File(path, "r") as f:
                for name in self.tops:
                    if name not in f or not isinstance(f[name], h5py.Dataset):
                        raise self.error(f"HDF5 file '{path}' has no dataset '{name}' (one per top; "
                                         f"it has: {', '.join(sorted(f.keys())) or 'none'})")
                    d = f[name]
                    if d.dtype.kind not in "fiu":
                        raise self.error(f"dataset '{name}' of '{path}' has type {d.dtype}: only float "
                                         "and integer datasets can be read")
                    if d.ndim < 1:
                        raise self.error(f"dataset '{name}' of '{path}' must have at least 1 axis")
                    arrays.append(np.asarray(d[...], dtype=np.float32))
        except OSError as e:
            raise self.error(f"Failed opening HDF5 file: '{path}': {e}") from None
        num = arrays[0].shape[0]
        for name, a in zip(self.tops, arrays):
            if a.shape[0] != num:
                raise self.error(f"datasets of '{path}' must have the same number of rows: "
                                 f"'{self.tops[0]}' has {num}, '{name}' has {a.shape[0]}")
        self.arrays = arrays
        self.rows = np.arange(num)
        if self.shuffle:
            _rng.get_rng().shuffle(self.rows)

    def reshape(self, bottom, top):
        """Shapes are set in setup; every file's rows must fit them (checked in forward)."""

    def _next(self):
        self.current_row += 1
        if self.current_row == self.arrays[0].shape[0]:
            if len(self.files) > 1:
                self.current_file += 1
                if self.current_file == len(self.files):
                    self.current_file = 0
                    if self.shuffle:
                        _rng.get_rng().shuffle(self.file_order)
                self._load(self.files[self.file_order[self.current_file]])
            self.current_row = 0
            if self.shuffle:
                _rng.get_rng().shuffle(self.rows)

    def forward(self, bottom, top):
        for i in range(self.batch_size):
            row = self.rows[self.current_row]
            for t, a, name in zip(top, self.arrays, self.tops):
                if a.shape[1:] != t.shape[1:]:
                    raise self.error(f"dataset '{name}' rows have shape {a.shape[1:]} in this file but "
                                     f"{t.shape[1:]} in the first one")
                t.data[i] = a[row]
            self._next()
