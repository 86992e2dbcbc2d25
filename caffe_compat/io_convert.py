"""pycaffe's ``caffe.io`` conversions between numpy arrays and Caffe's messages.

- ``blobproto_to_array(blob, return_diff=False)``: ``data`` (or ``diff``) as a float64 array of
  the blob's shape: the legacy num/channels/height/width when any of them is set, else
  ``shape.dim``; a blob with neither and more than one value is a ValueError (numpy cannot
  give it a shape), a one-value blob without shape gives a 0-d array;
- ``array_to_blobproto(arr, diff=None)``: ``shape.dim`` and the values (and ``diff``);
- ``arraylist_to_blobprotovector_str`` / ``blobprotovector_str_to_arraylist``: a list of arrays
  to a serialized BlobProtoVector and back;
- ``array_to_datum(arr, label=None)``: a C x H x W array as a Datum, uint8 arrays as bytes in
  ``data``, other dtypes as ``float_data`` (``label`` set only when given);
- ``datum_to_array(datum)``: back to C x H x W (uint8 from ``data``, else float64).
"""
import numpy as np

from .io import _is_legacy
from .proto import caffe_pb2


def blobproto_to_array(blob, return_diff=False):
    values = np.array(blob.diff if return_diff else blob.data)
    if _is_legacy(blob):
        return values.reshape(blob.num, blob.channels, blob.height, blob.width)
    return values.reshape(tuple(blob.shape.dim))


def array_to_blobproto(arr, diff=None):
    arr = np.asarray(arr)
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(int(d) for d in arr.shape)
    blob.data.extend(arr.astype(float).ravel().tolist())
    if diff is not None:
        blob.diff.extend(np.asarray(diff).astype(float).ravel().tolist())
    return blob


def arraylist_to_blobprotovector_str(arraylist):
    vec = caffe_pb2.BlobProtoVector()
    vec.blobs.extend(array_to_blobproto(arr) for arr in arraylist)
    return vec.SerializeToString()


def blobprotovector_str_to_arraylist(data):
    vec = caffe_pb2.BlobProtoVector()
    vec.ParseFromString(data)
    return [blobproto_to_array(blob) for blob in vec.blobs]


def array_to_datum(arr, label=None):
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise ValueError("Incorrect array shape.")
    datum = caffe_pb2.Datum()
    datum.channels, datum.height, datum.width = (int(d) for d in arr.shape)
    if arr.dtype == np.uint8:
        datum.data = np.ascontiguousarray(arr).tobytes()
    else:
        datum.float_data.extend(arr.astype(float).ravel().tolist())
    if label is not None:
        datum.label = label
    return datum


def datum_to_array(datum):
    shape = (datum.channels, datum.height, datum.width)
    if len(datum.data):
        return np.frombuffer(datum.data, dtype=np.uint8).reshape(shape).copy()
    return np.array(datum.float_data, dtype=float).reshape(shape)
