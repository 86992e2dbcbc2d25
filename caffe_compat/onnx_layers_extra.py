"""ONNX nodes for the less common Caffe layers (PReLU, ELU, Crop, ...), used by onnx_export.

``EXPORTERS[type](b, layer, bottoms, top_shapes, bottom_shapes)`` appends the nodes of one
layer to the builder ``b`` and returns the onnx names of its tops. ``NOT_EXPORTABLE[type]``
says why a type has no ONNX form; onnx_export raises its ExportError naming the layer, its
type and that reason.
"""
import itertools

import numpy as np

from .onnx_export import ExportError, _param


def _prelu(b, layer, bottoms, top_shapes, bottom_shapes):
    slope = _param(layer, 0)
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
    out = b.node("Gather", [b.const(name + "_w", _param(layer, 0)), idx], name, axis=0)
    if layer.layer_param.embed_param.bias_term:
        out = b.node("Add", [out, b.const(name + "_b", _param(layer, 1))], name)
    return [out]


def _bnll(b, layer, bottoms, top_shapes, bottom_shapes):
    return [b.node("Softplus", [bottoms[0]], layer.name)]


def _threshold(b, layer, bottoms, top_shapes, bottom_shapes):
    from onnx import TensorProto

    t = b.const(layer.name + "_t", np.float32(layer.layer_param.threshold_param.threshold))
    above = b.node("Greater", [bottoms[0], t], layer.name + "_gt")
    return [b.node("Cast", [above], layer.name, to=TensorProto.FLOAT)]


def _clip(b, layer, bottoms, top_shapes, bottom_shapes):
    p = layer.layer_param.clip_param
    return [b.node("Clip", [bottoms[0], b.const(layer.name + "_min", np.float32(p.min)),
                            b.const(layer.name + "_max", np.float32(p.max))], layer.name)]


def _swish(b, layer, bottoms, top_shapes, bottom_shapes):
    x, name = bottoms[0], layer.name
    bx = b.node("Mul", [x, b.const(name + "_beta", np.float32(layer.layer_param.swish_param.beta))],
                name + "_bx")
    return [b.node("Mul", [x, b.node("Sigmoid", [bx], name + "_sig")], name)]


def _tile(b, layer, bottoms, top_shapes, bottom_shapes):
    repeats = np.ones(len(bottom_shapes[0]), np.int64)
    repeats[layer.axis] = layer.tiles
    return [b.node("Tile", [bottoms[0], b.const(layer.name + "_rep", repeats)], layer.name)]


def _reduction(b, layer, bottoms, top_shapes, bottom_shapes):
    from .layer_types.reduction import ASUM, MEAN, SUM

    p, name, x = layer.layer_param.reduction_param, layer.name, bottoms[0]
    nd = len(bottom_shapes[0])
    axes = list(range(len(top_shapes[0]), nd))  # the top keeps the axes before ``axis``
    if layer.op == SUM:
        out = b.node("ReduceSum", [x, b.const(name + "_axes", np.array(axes, np.int64))], name,
                     keepdims=0)
    else:
        op = {ASUM: "ReduceL1", MEAN: "ReduceMean"}.get(layer.op, "ReduceSumSquare")
        out = b.node(op, [x], name, axes=axes, keepdims=0)
    if p.coeff != 1:
        out = b.node("Mul", [out, b.const(name + "_coeff", np.float32(p.coeff))], name)
    return [out]


def _mvn(b, layer, bottoms, top_shapes, bottom_shapes):
    name, x = layer.name, bottoms[0]
    shape4 = list(top_shapes[0])
    if len(bottom_shapes[0]) != 4:
        x = b.node("Reshape", [x, b.const(name + "_4d", np.array([-1] + shape4[1:], np.int64))],
                   name + "_4d")
    axes = [1, 2, 3] if layer.layer_param.mvn_param.across_channels else [2, 3]
    mean = b.node("ReduceMean", [x], name + "_mean", axes=axes, keepdims=1)
    y = b.node("Sub", [x, mean], name + "_centered")
    if not layer.normalize_variance:
        return [y]
    var = b.node("ReduceMean", [b.node("Mul", [y, y], name + "_sq")], name + "_var", axes=axes,
                 keepdims=1)
    std = b.node("Add", [b.node("Sqrt", [var], name + "_sqrt"),
                         b.const(name + "_eps", np.float32(layer.eps))], name + "_std")
    return [b.node("Div", [y, std], name)]


def _filter(b, layer, bottoms, top_shapes, bottom_shapes):
    name = layer.name
    flat = b.node("Reshape", [bottoms[-1], b.const(name + "_flat", np.array([-1], np.int64))],
                  name + "_sel")
    keep = b.node("Not", [b.node("Equal", [flat, b.const(name + "_zero", np.float32(0))],
                                 name + "_is0")], name + "_keep")
    return [b.node("Compress", [x, keep], name, axis=0) for x in bottoms[:-1]]


def _batch_reindex(b, layer, bottoms, top_shapes, bottom_shapes):
    from onnx import TensorProto

    idx = b.node("Cast", [bottoms[1]], layer.name + "_idx", to=TensorProto.INT64)
    return [b.node("Gather", [bottoms[0], idx], layer.name, axis=0)]


def _parameter(b, layer, bottoms, top_shapes, bottom_shapes):
    return [b.node("Identity", [b.const(layer.name + "_value", _param(layer, 0))],
                   layer.name)]


def _im2col(b, layer, bottoms, top_shapes, bottom_shapes):
    """A grouped convolution with one-hot kernels: output channel c*K + k copies kernel
    position k of channel c, which is Caffe's column order."""
    if layer.axis != 1:
        raise ExportError(f"Layer '{layer.name}' (Im2col): only axis 1 is exported "
                          f"(this one has axis {layer.axis})")
    channels = bottom_shapes[0][1]
    kernel = list(layer.kernel)
    k = int(np.prod(kernel))
    weight = np.zeros([channels * k, 1] + kernel, np.float32)
    for c in range(channels):
        for j, pos in enumerate(itertools.product(*(range(n) for n in kernel))):
            weight[(c * k + j, 0) + pos] = 1
    return [b.node("Conv", [bottoms[0], b.const(layer.name + "_onehot", weight)], layer.name,
                   kernel_shape=kernel, strides=list(layer.stride), pads=list(layer.pad) * 2,
                   dilations=list(layer.dilation), group=channels)]


EXPORTERS = {
    "PReLU": _prelu,
    "ELU": _elu,
    "Crop": _crop,
    "Embed": _embed,
    "BNLL": _bnll,
    "Threshold": _threshold,
    "Clip": _clip,
    "Swish": _swish,
    "Tile": _tile,
    "Reduction": _reduction,
    "MVN": _mvn,
    "Filter": _filter,
    "BatchReindex": _batch_reindex,
    "Parameter": _parameter,
    "Im2col": _im2col,
}

NOT_EXPORTABLE = {
    "SPP": "its pyramid of paddings that depend on the input size is not built in ONNX here",
    "HDF5Output": "it writes a file; it has no output to compute",
}
