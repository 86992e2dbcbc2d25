"""Helpers shared by the tests/test_data_*.py files: build a layer from prototxt text, run it."""
import lmdb
from google.protobuf import text_format

from caffe_compat.blob import Blob
from caffe_compat.layer_types.base import create_layer
from caffe_compat.proto import caffe_pb2

TRAIN, TEST = 0, 1


def make_layer(text, phase=TEST):
    return create_layer(text_format.Parse(text, caffe_pb2.LayerParameter()), phase)


def run_data_layer(text, phase=TEST, batches=1, ntop=2):
    """setup + ``batches`` forwards of a data layer; returns [(data, label)] copies."""
    layer = make_layer(text, phase)
    top = [Blob(name=f"t{i}") for i in range(ntop)]
    layer.check_blob_counts([], top)
    out = []
    try:
        layer.setup([], top)
        for _ in range(batches):
            layer.reshape([], top)
            layer.forward([], top)
            out.append(tuple(t.data.copy() for t in top))
    finally:
        if hasattr(layer, "close"):
            layer.close()
    return out


def lmdb_items(path):
    """Every (key, value) of a database, read through the project's shared environment
    (py-lmdb refuses a second environment on a folder a Data layer has open)."""
    from caffe_compat.data.lmdb_source import open_env

    with open_env(path).begin() as txn:
        return list(txn.cursor())


def write_lmdb(path, items):
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for k, v in items:
            txn.put(k, v)
    env.close()


def datum(**fields):
    d = caffe_pb2.Datum()
    for k, v in fields.items():
        setattr(d, k, v)
    return d.SerializeToString()
