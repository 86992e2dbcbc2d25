"""HDF5Output: writes its two bottoms to an HDF5 file (Caffe's HDF5OutputLayer).

hdf5_output_param.file_name: the file, created (truncated) at setup. Forward writes the
datasets ``data`` (bottom 0) and ``label`` (bottom 1) as float32, each with Caffe's legacy
4-D shape (num, channels, height, width): a (N, C) bottom becomes (N, C, 1, 1). Both bottoms
need the same num and at most 4 axes. Caffe 1.0 writes the datasets once: a second forward
fails there ("Failed to make float dataset"), and here too. No tops, no backward. Needs h5py.
"""
import numpy as np

from ._hdf5 import import_h5py
from .base import Layer, register


def legacy_4d(shape):
    return tuple(shape[i] if i < len(shape) else 1 for i in range(4))


@register("HDF5Output")
class HDF5OutputLayer(Layer):
    EXACT_NUM_BOTTOM = 2
    EXACT_NUM_TOP = 0

    def setup(self, bottom, top):
        self.h5py = import_h5py(self)
        self.file_name = self.layer_param.hdf5_output_param.file_name
        try:
            with self.h5py.File(self.file_name, "w"):
                pass
        except OSError as e:
            raise self.error(f"Failed to open HDF5 file '{self.file_name}' "
                             f"(hdf5_output_param.file_name): {e}") from None
        self.written = False

    def reshape(self, bottom, top):
        a, b = bottom[0].shape, bottom[1].shape
        if len(a) > 4 or len(b) > 4:
            raise self.error("bottoms must have at most 4 axes", bottom0=a, bottom1=b)
        if legacy_4d(a)[0] != legacy_4d(b)[0]:
            raise self.error("data blob and label blob must have the same batch size", bottom0=a, bottom1=b)

    def forward(self, bottom, top):
        if self.written:
            raise self.error(f"Failed to make float dataset data: '{self.file_name}' already holds "
                             "this layer's datasets (Caffe 1.0 writes one batch per file)")
        with self.h5py.File(self.file_name, "a") as f:
            for name, blob in (("data", bottom[0]), ("label", bottom[1])):
                f.create_dataset(name, data=np.asarray(blob.data, np.float32).reshape(legacy_4d(blob.shape)))
        self.written = True
