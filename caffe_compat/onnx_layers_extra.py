"""ONNX nodes for the less common Caffe layers (PReLU, ELU, Crop, ...), used by onnx_export.

``EXPORTERS[type](b, layer, bottoms, top_shapes, bottom_shapes)`` appends the nodes of one
layer to the builder ``b`` and returns the onnx names of its tops. ``NOT_EXPORTABLE[type]``
says why a type has no ONNX form; onnx_export raises its ExportError naming the layer, its
type and that reason.
"""
import numpy as np


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _prelu(b, layer, bottoms, top_shapes, bottom_shapes):
    slope = _f32(layer.blobs[0].data)
    nd = len(bottom_shapes[0])
    if slope.ndim == 0:
        slope = slope.reshape(1)
    else:
        slope = slope.reshape((-1,) + (1,) * (nd - 2))  # channel axis 1, broadcast inner
    return [b.node("PRelu", [bottoms[0], b.const(layer.name + "_slope", slope)], layer.name)]


def _elu(b, layer, bottoms, top_shapes, bottom_shapes):
    alpha = float(layer.layer_param.elu_param.alpha)
    return [b.node("Elu", [bottoms[0]], layer.name, alpha=alpha)]


def _crop(b, layer, bottoms, top_shapes, bottom_shapes):
    # The window the layer computed in reshape: one slice per axis.
    starts, ends, axes = [], [], []
    for axis, s in enumerate(layer.window):
        if s.start is not None:
            starts.append(s.start)
            ends.append(s.stop)
            axes.append(axis)
    name = layer.name
    return [b.node("Slice", [bottoms[0], b.const(name + "_starts", np.array(starts, np.int64)),
                             b.const(name + "_ends", np.array(ends, np.int64)),
                             b.const(name + "_axes", np.array(axes, np.int64))], name)]


def _embed(b, layer, bottoms, top_shapes, bottom_shapes):
    # Caffe truncates the float indices (static_cast<int>); ONNX's Cast to int64 truncates too.
    from onnx import TensorProto

    name = layer.name
    idx = b.node("Cast", [bottoms[0]], name, to=TensorProto.INT64)
    out = b.node("Gather", [b.const(name + "_w", _f32(layer.blobs[0].data)), idx], name, axis=0)
    if layer.layer_param.embed_param.bias_term:
        out = b.node("Add", [out, b.const(name + "_b", _f32(layer.blobs[1].data))], name)
    return [out]


EXPORTERS = {
    "PReLU": _prelu,
    "ELU": _elu,
    "Crop": _crop,
    "Embed": _embed,
}

NOT_EXPORTABLE = {
    "SPP": "its pyramid of paddings that depend on the input size is not built in ONNX here",
    "HDF5Output": "it writes a file; it has no output to compute",
}
