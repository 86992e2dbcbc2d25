"""Binary Caffe files: .caffemodel (NetParameter), .binaryproto (BlobProto), .solverstate.

What we write is what Caffe 1.0 writes and reads: layers in ``NetParameter.layer`` (field
100) with their type string, each blob with a ``shape`` and float ``data``. Reading also
accepts the legacy forms Caffe accepts: V1 ``layers`` (upgraded on load), blobs with the
4-D num/channels/height/width dims, ``double_data``.

Every file is written atomically (temp file in the same folder, fsync, os.replace), so a
crash never leaves a half-written snapshot behind.
"""
import os
import tempfile
from collections import OrderedDict

import numpy as np
from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError

from .errors import FormatError, fmt_shape
from .proto import caffe_pb2

_LEGACY_DIMS = ("num", "channels", "height", "width")


# ---------------------------------------------------------------------------- files

def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically: temp file in the same dir, fsync, replace."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        # mkstemp creates 0600 files; give the result the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    # Make the rename itself durable where the platform allows it.
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _read_bytes(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FormatError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, expected a {what} file") from None
    except OSError as e:
        raise FormatError(f"{path}: cannot read {what} file: {e.strerror}") from None


def _parse(path, message, what):
    """Parse the bytes of ``path`` into ``message``; FormatError when they are not one."""
    data = _read_bytes(path, what)
    kind = message.DESCRIPTOR.full_name
    if not data:
        raise FormatError(f"{path}: empty file, expected a {what} ({kind})")
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise FormatError(
            f"{path}: not a valid {what}: the data is not a {kind} protobuf "
            f"(truncated or corrupt file, {len(data)} bytes)") from None
    if len(unknown_fields.UnknownFieldSet(message)):
        raise FormatError(
            f"{path}: not a valid {what}: it contains fields that a {kind} does not have "
            "(wrong kind of file?)")
    return message


# ---------------------------------------------------------------------------- blobs

def blob_shape(blob):
    """The shape Caffe gives a BlobProto: legacy 4-D dims if any is set, else ``shape``."""
    if any(blob.HasField(d) for d in _LEGACY_DIMS):
        return tuple(int(getattr(blob, d)) for d in _LEGACY_DIMS)
    return tuple(int(d) for d in blob.shape.dim)


def _is_legacy(blob):
    return any(blob.HasField(d) for d in _LEGACY_DIMS)


def _count(shape):
    count = 1
    for d in shape:
        count *= int(d)
    return count


def _check_blob_count(blob, where):
    shape = blob_shape(blob)
    n_double = len(blob.double_data)
    n_values = n_double if n_double else len(blob.data)
    if n_values != _count(shape):
        field = "double_data" if n_double else "data"
        raise FormatError(
            f"{where}: blob of shape {fmt_shape(shape)} holds {n_values} {field} values "
            f"instead of {_count(shape)} (truncated or corrupt file?)")
    return shape


def legacy_shape_matches(blob, expected_shape):
    """Caffe's ShapeEquals for a legacy blob: expected padded left with 1s to 4-D."""
    expected = tuple(int(d) for d in expected_shape)
    if len(expected) > 4:
        return False
    padded = (1,) * (4 - len(expected)) + expected
    return padded == blob_shape(blob)


def blob_to_array(blob, expected_shape=None, where="blob"):
    """A BlobProto's values as a numpy array (float32 for ``data``, float64 for ``double_data``).

    With ``expected_shape`` (the shape of the net's blob), the stored shape must match it
    as Caffe's Blob::ShapeEquals demands; a legacy 4-D blob such as an InnerProduct weight
    stored 1 x 1 x N x K then comes back as (N, K). ``where`` names the blob in errors.
    """
    shape = _check_blob_count(blob, where)
    if len(blob.double_data):
        values = np.array(blob.double_data, dtype=np.float64)
    else:
        values = np.array(blob.data, dtype=np.float32)
    if expected_shape is not None:
        expected = tuple(int(d) for d in expected_shape)
        ok = legacy_shape_matches(blob, expected) if _is_legacy(blob) else shape == expected
        if not ok:
            raise FormatError(
                f"{where}: shape mismatch. Source param shape is {fmt_shape(shape)}; "
                f"target param shape is {fmt_shape(expected)}")
        shape = expected
    return values.reshape(shape)


def _varint(n):
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _packed_floats(field_number, arr):
    """Wire bytes of a packed repeated float field (much faster than extend() for big blobs)."""
    raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
    if not raw:
        return b""
    return _varint(field_number << 3 | 2) + _varint(len(raw)) + raw


def array_to_blob(arr, diff=None):
    """A BlobProto with ``shape`` and float32 ``data`` (and ``diff`` if given), as Caffe writes.

    Arrays of other dtypes are stored as float32, like a float Caffe net stores them.
    """
    arr = np.asarray(arr)
    blob = caffe_pb2.BlobProto()
    if arr.ndim:  # Caffe's ToProto leaves `shape` out entirely for a 0-axis blob
        blob.shape.dim.extend(int(d) for d in arr.shape)
    payload = _packed_floats(5, arr.ravel())
    if diff is not None:
        diff = np.asarray(diff)
        if diff.shape != arr.shape:
            raise FormatError(f"diff shape {fmt_shape(diff.shape)} differs from data shape "
                              f"{fmt_shape(arr.shape)}")
        payload += _packed_floats(6, diff.ravel())
    if payload:
        blob.MergeFromString(payload)
    return blob


# ---------------------------------------------------------------------------- caffemodel

def read_net_binary(path, upgrade=True):
    """Read a binary NetParameter (.caffemodel), upgraded to the current format.

    Raises FormatError naming ``path`` for a missing, empty, truncated or foreign file.
    """
    from .upgrade import upgrade_net

    net = _parse(path, caffe_pb2.NetParameter(), "caffemodel")
    if len(net.layer) == 0 and len(net.layers) == 0:
        raise FormatError(f"{path}: not a valid caffemodel: it holds no layers "
                          "(truncated file, or not a NetParameter)")
    for layer in list(net.layer) + list(net.layers):
        for k, blob in enumerate(layer.blobs):
            _check_blob_count(blob, f"{path}: layer '{layer.name}' blob {k}")
    if upgrade:
        upgrade_net(net, os.fspath(path))
    return net


def net_arrays(net, source="net"):
    """OrderedDict layer name -> [arrays] of the layers of ``net`` that have blobs."""
    arrays = OrderedDict()
    for layer in net.layer:
        if len(layer.blobs) == 0:
            continue
        arrays[layer.name] = [blob_to_array(blob, where=f"{source}: layer '{layer.name}' blob {k}")
                              for k, blob in enumerate(layer.blobs)]
    return arrays


def load_caffemodel_arrays(path):
    """OrderedDict {layer name: [param arrays in Caffe's order]} of a .caffemodel.

    Only layers that carry blobs appear. Legacy 4-D blobs keep their stored 4-D shape
    (only the net knows the real shape; see blob_to_array's expected_shape).
    """
    return net_arrays(read_net_binary(path), os.fspath(path))


def arrays_to_net(layers, name=None):
    """A NetParameter from an ordered mapping name -> (type, [arrays])."""
    net = caffe_pb2.NetParameter()
    if name:
        net.name = name
    for layer_name, (layer_type, arrays) in layers.items():
        layer = net.layer.add()
        layer.name = layer_name
        if layer_type:
            layer.type = layer_type
        for arr in arrays:
            layer.blobs.append(array_to_blob(arr))
    return net


def save_caffemodel(path, layers, name=None):
    """Write a .caffemodel atomically.

    ``layers``: a NetParameter (written as is), or an ordered mapping
    name -> (type, [arrays]) (one ``layer`` entry each, blobs with ``shape``).
    """
    net = layers if isinstance(layers, caffe_pb2.NetParameter) else arrays_to_net(layers, name)
    atomic_write_bytes(path, net.SerializeToString())
    return net


# ---------------------------------------------------------------------------- mean files

def read_binaryproto(path):
    """The array of a .binaryproto BlobProto (a mean file: legacy 1 x C x H x W)."""
    blob = _parse(path, caffe_pb2.BlobProto(), "binaryproto")
    return blob_to_array(blob, where=os.fspath(path))


def write_binaryproto(path, arr):
    """Write ``arr`` as a BlobProto (with ``shape``) atomically."""
    atomic_write_bytes(path, array_to_blob(arr).SerializeToString())


def check_mean_shape(mean, data_shape, mean_path=None):
    """Caffe's DataTransformer checks: the mean's channels/height/width equal the data's.

    ``mean``: the mean array (1 x C x H x W or C x H x W); ``data_shape``: the datum's
    (C, H, W) or a batch's (N, C, H, W), before cropping.
    """
    mean_shape = tuple(int(d) for d in np.shape(mean))
    data_shape = tuple(int(d) for d in data_shape)
    mean_chw = mean_shape[-3:] if len(mean_shape) >= 3 else None
    if len(mean_shape) == 4 and mean_shape[0] != 1:
        mean_chw = None
    if mean_chw is None or len(data_shape) < 3 or mean_chw != data_shape[-3:]:
        name = f"mean file {mean_path}" if mean_path else "mean"
        raise FormatError(
            f"{name} has shape {fmt_shape(mean_shape)}, which does not fit data of shape "
            f"{fmt_shape(data_shape)}: channels, height and width must be equal")
    return mean_chw


# ---------------------------------------------------------------------------- solverstate

def read_solverstate(path):
    """Read a .solverstate (SolverState): iter, current_step, learned_net, history blobs."""
    state = _parse(path, caffe_pb2.SolverState(), "solverstate")
    if not state.HasField("iter"):
        raise FormatError(f"{path}: not a valid solverstate: it has no 'iter' field")
    for k, blob in enumerate(state.history):
        _check_blob_count(blob, f"{path}: history blob {k}")
    return state


def solverstate_history(state):
    """The history blobs of a SolverState as arrays, in Caffe's order."""
    return [blob_to_array(blob, where=f"history blob {k}") for k, blob in enumerate(state.history)]


def make_solverstate(iteration, history, current_step=0, learned_net=""):
    """A SolverState from its fields and a list of history arrays."""
    state = caffe_pb2.SolverState(iter=int(iteration), current_step=int(current_step))
    if learned_net:
        state.learned_net = os.fspath(learned_net)
    for arr in history:
        state.history.append(array_to_blob(arr))
    return state


def write_solverstate(path, state):
    """Write a SolverState atomically."""
    atomic_write_bytes(path, state.SerializeToString())


# ------------------------------------------------------------------------ pycaffe's caffe.io
_PYCAFFE_IO = {
    "blobproto_to_array": "io_convert", "array_to_blobproto": "io_convert",
    "arraylist_to_blobprotovector_str": "io_convert",
    "blobprotovector_str_to_arraylist": "io_convert", "array_to_datum": "io_convert",
    "datum_to_array": "io_convert", "load_image": "io_image", "resize_image": "io_image",
    "oversample": "io_image", "Transformer": "io_transformer",
}


def __getattr__(name):
    """pycaffe's ``caffe.io`` names (io_convert, io_image, io_transformer), loaded on use."""
    if name in _PYCAFFE_IO:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{_PYCAFFE_IO[name]}"), name)
    raise AttributeError(f"module 'caffe_compat.io' has no attribute '{name}'")
