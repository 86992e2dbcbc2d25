"""CIFAR-10's "python version" batches (cifar-10-python.tar.gz, what torchvision downloads).

Each of ``data_batch_1`` ... ``data_batch_5`` and ``test_batch`` is a pickled dict:
``b"data"`` a uint8 array (10000, 3072), each row 1024 red, 1024 green, 1024 blue values
(row-major 32x32 planes, the binary version's order), and ``b"labels"`` a list of 10000
labels 0-9 (also ``b"batch_label"`` and ``b"filenames"``, unused).

A pickle can run code when loaded, so the batches are read by an unpickler that builds
only what such a batch holds: dicts, lists, bytes, numbers and numpy arrays (numpy's
``_reconstruct``, ``ndarray`` and ``dtype``; ``_codecs.encode``, which a protocol-2 pickle
written by Python 3 uses for bytes). Anything else is refused, naming the file.
"""
import importlib
import pickle

import numpy as np

from ..errors import FormatError

CIFAR_PY_TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_PY_TEST_FILE = "test_batch"

# The globals a numpy array's pickle names (numpy 1's module path, numpy 2's, both read).
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode")}   # bytes in a protocol-2 pickle written by Python 3


class _BatchUnpickler(pickle.Unpickler):
    def __init__(self, f, path):
        super().__init__(f, encoding="bytes")
        self.path = path

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise FormatError(f"'{self.path}': not a CIFAR-10 python batch (its pickle names "
                              f"{module}.{name}, which a batch never holds; refused rather "
                              f"than run)")
        # numpy 2 keeps numpy 1's numpy.core as a deprecated alias of numpy._core.
        for candidate in dict.fromkeys((module.replace("numpy.core", "numpy._core"), module)):
            try:
                return getattr(importlib.import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        raise FormatError(f"'{self.path}': this numpy cannot read the batch's {module}.{name}")


def read_cifar10_python(path):
    """One python-version batch -> (uint8 (N, 3, 32, 32) in R, G, B plane order, int32
    labels), as ``read_cifar10_bin`` gives the binary version's."""
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, path).load()
    except FormatError:
        raise
    except Exception as e:   # truncated or not a pickle at all
        raise FormatError(f"'{path}': not a CIFAR-10 python batch ({e})") from None
    if not isinstance(batch, dict):
        raise FormatError(f"'{path}': not a CIFAR-10 python batch (a pickled "
                          f"{type(batch).__name__}, not a dict)")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise FormatError(f"'{path}': not a CIFAR-10 python batch (no 'data' and 'labels')")
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int32).reshape(-1)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 \
            or data.shape[0] != labels.size:
        raise FormatError(f"'{path}': 'data' must be uint8 of shape (N, 3072) with N labels, "
                          f"got {data.dtype} {data.shape} and {labels.size} labels")
    return data.reshape(-1, 3, 32, 32).copy(), labels
