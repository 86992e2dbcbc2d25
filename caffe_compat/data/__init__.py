"""Data sources: LMDB of Datum, IDX / CIFAR-10 readers, the data transformer, converters."""


def open_dataset(path, workdir, subset=None):
    """The one place that opens a dataset (caffe_compat.data.dataset.open_dataset)."""
    from .dataset import open_dataset as _open

    return _open(path, workdir, subset)
