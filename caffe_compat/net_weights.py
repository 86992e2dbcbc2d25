"""A Net's parameters in and out: ``Net::CopyTrainedLayersFrom`` (a caffemodel or a
NetParameter, legacy forms upgraded, Caffe's shape checks), ``Net::ToProto``, saving a
caffemodel atomically, and ``Net::ShareTrainedLayersWith`` (shared parameter arrays, Caffe's
ShareData: whoever updates parameters must write into ``blob.data`` in place). Mixed into
caffe_compat.net.Net."""
import logging
import os

import numpy as np

from .errors import FormatError, LayerSetupError, fmt_shape
from .io import read_net_binary, save_caffemodel
from .proto import caffe_pb2
from .upgrade import net_needs_upgrade, upgrade_net

log = logging.getLogger("caffe_compat.net")  # Caffe logs these from net.cpp

SRC_IGNORING = "net.cpp:746"  # est. (net.cpp:744 in rc releases)
SRC_COPYING = "net.cpp:753"  # est.; a DLOG in Caffe: debug level here


class NetWeights:
    """Mixed into caffe_compat.net.Net (needs ``layers``, ``_layer_index``, ``_layer_names``,
    ``name``)."""

    def copy_from(self, source):
        """Net::CopyTrainedLayersFrom: parameters by layer name from a caffemodel path or a
        NetParameter; layers absent from the source keep their values."""
        param = source if isinstance(source, caffe_pb2.NetParameter) else read_net_binary(os.fspath(source))
        where = "" if isinstance(source, caffe_pb2.NetParameter) else f" from '{os.fspath(source)}'"
        if net_needs_upgrade(param):
            param = caffe_pb2.NetParameter.FromString(param.SerializeToString())
            upgrade_net(param, param.name or "<weights>")
        for src in param.layer:
            if src.name not in self._layer_index:
                log.info("Ignoring source layer %s", src.name, extra={"caffe_src": SRC_IGNORING})
                continue
            log.debug("Copying source layer %s", src.name, extra={"caffe_src": SRC_COPYING})
            target = self.layers[self._layer_index[src.name]].blobs
            if len(target) != len(src.blobs):
                raise LayerSetupError(f"Incompatible number of blobs for layer '{src.name}'{where}: "
                                      f"the file has {len(src.blobs)}, the net has {len(target)}")
            for k, (blob, proto) in enumerate(zip(target, src.blobs)):
                source_shape = _proto_shape(proto)
                if not _shape_equals(blob.shape, proto):
                    raise LayerSetupError(
                        f"Cannot copy param {k} weights from layer '{src.name}'{where}; shape mismatch. "
                        f"Source param shape is {fmt_shape(source_shape)}; target param shape is "
                        f"{fmt_shape(blob.shape)}. To learn this layer's parameters from scratch "
                        "rather than copying from a saved net, rename the layer."
                    )
                values = proto.double_data if len(proto.double_data) else proto.data
                if len(values) != blob.count:
                    raise FormatError(f"layer '{src.name}' param {k}{where}: {len(values)} values "
                                      f"for a blob of shape {fmt_shape(blob.shape)}")
                blob.data[...] = np.asarray(values, dtype=blob.data.dtype).reshape(blob.shape)

    copy_trained_layers_from = copy_from

    def to_proto(self, write_diff=False):
        """Net::ToProto: the net name and every layer (its parameter and blobs)."""
        out = caffe_pb2.NetParameter(name=self.name)
        for layer in self.layers:
            lp = out.layer.add()
            lp.CopyFrom(layer.layer_param)
            del lp.blobs[:]
            for blob in layer.blobs:
                bp = lp.blobs.add()
                bp.shape.dim.extend(blob.shape)
                bp.data.extend(np.asarray(blob.data, dtype=np.float32).ravel())
                if write_diff:
                    bp.diff.extend(np.asarray(blob.diff, dtype=np.float32).ravel())
        return out

    def save(self, path):
        """Write a current-format caffemodel (one entry per layer), atomically."""
        save_caffemodel(os.fspath(path), self.to_proto())

    def share_trained_layers_with(self, other):
        """Net::ShareTrainedLayersWith: use ``other``'s parameter data arrays by layer name."""
        for src_name, src_layer in zip(other._layer_names, other.layers):
            if src_name not in self._layer_index:
                continue
            target = self.layers[self._layer_index[src_name]].blobs
            if len(target) != len(src_layer.blobs):
                raise LayerSetupError(f"Incompatible number of blobs for layer '{src_name}': "
                                      f"{len(src_layer.blobs)} vs {len(target)}")
            for k, (mine, theirs) in enumerate(zip(target, src_layer.blobs)):
                if mine.shape != theirs.shape:
                    raise LayerSetupError(f"Cannot share param {k} of layer '{src_name}': source "
                                          f"shape {fmt_shape(theirs.shape)}, target shape {fmt_shape(mine.shape)}")
                mine.data = theirs.data

    share_with = share_trained_layers_with


def _proto_shape(proto):
    if proto.HasField("num") or proto.HasField("channels") or proto.HasField("height") or proto.HasField("width"):
        return (proto.num, proto.channels, proto.height, proto.width)
    return tuple(proto.shape.dim)


def _shape_equals(shape, proto):
    """Blob::ShapeEquals: legacy 4-D dims compare against the shape padded with leading 1s."""
    if proto.HasField("num") or proto.HasField("channels") or proto.HasField("height") or proto.HasField("width"):
        if len(shape) > 4:
            return False
        legacy = (1,) * (4 - len(shape)) + tuple(shape)
        return legacy == (proto.num, proto.channels, proto.height, proto.width)
    return tuple(shape) == tuple(proto.shape.dim)
