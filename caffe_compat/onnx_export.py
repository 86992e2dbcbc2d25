"""Export a trained Net to an ONNX graph that onnxruntime runs with Caffe's numbers.

``export_onnx(net, path, outputs=None)`` writes a graph whose input is the net's data blob
(batch dimension symbolic, ``N``) and whose outputs are, by default, the logits: the first
bottom of each loss / Accuracy / final Softmax layer. Only the layers the outputs depend on
are exported, so a teacher-student net exports its student alone.

Where Caffe and ONNX disagree the graph is built to give Caffe's numbers:

- Pooling: Caffe rounds the output size up (and drops a last window that would start in
  the padding). The export computes Caffe's size and pads the end explicitly so that
  ONNX's floor rounding gives the same windows. For AVE pooling Caffe divides by the
  window clipped to the padded image (padding counted, the extra end padding not): the
  export pads with zeros explicitly and pools with ``count_include_pad=0``.
- LRN WITHIN_CHANNEL has no ONNX op: x * (1 + alpha * avgpool(x^2))^(-beta), with the
  local_size x local_size average pool padded by (local_size - 1) / 2, as Caffe builds it.
- InnerProduct: Flatten from ``axis`` then Gemm (``transpose`` picks transB).
- Deconvolution is ConvTranspose (same weight layout and output size).
- BatchNorm uses the stored statistics divided by the moving-average factor (TEST phase);
  Scale and Bias become Mul / Add with parameters shaped to broadcast over ``axis``.
- Dropout is the identity (TEST phase).
"""
import numpy as np

from .errors import CaffeError

OPSET = 17
_SKIP_TYPES = {"SoftmaxWithLoss", "SigmoidCrossEntropyLoss", "EuclideanLoss", "Accuracy",
               "Silence", "HingeLoss", "InfogainLoss", "ContrastiveLoss", "MultinomialLogisticLoss"}
_DATA_TYPES = {"Input", "Data", "MemoryData", "ImageData", "DummyData", "HDF5Data", "WindowData"}


class ExportError(CaffeError):
    """The net (or a layer of it) cannot be expressed in ONNX."""


def _bottoms(net, i):
    """Bottom blob names of layer ``i`` (by index: Caffe allows two layers one name, as
    mnist_autoencoder's two "loss" layers; net.bottom_names, keyed by name, keeps one)."""
    return [net._blob_names[b] for b in net._bottom_ids[i]]


def _tops(net, i):
    return [net._blob_names[t] for t in net._top_ids[i]]


def _unsplit(net, blob):
    """The blob an automatic Split copies (its tops have generated names)."""
    for i, layer in enumerate(net.layers):
        if layer.type == "Split" and blob in _tops(net, i):
            return _bottoms(net, i)[0]
    return blob


def default_outputs(net):
    """The logits: first bottom of the first SoftmaxWithLoss / Accuracy layer, else of a
    final Softmax, else the net's outputs."""
    outs = []
    for i, layer in enumerate(net.layers):
        if layer.type in ("SoftmaxWithLoss", "Accuracy"):
            b = _unsplit(net, _bottoms(net, i)[0])
            if b not in outs:
                outs.append(b)
    if outs:
        return outs[:1]
    last = net.layers[-1]
    if last.type == "Softmax":
        return [_bottoms(net, len(net.layers) - 1)[0]]
    return list(net.outputs)


class _Builder:
    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits = [], []
        self.names = {}     # caffe blob name -> current onnx value name
        self.counter = 0

    def fresh(self, base):
        self.counter += 1
        return f"{base}__{self.counter}"

    def const(self, base, array):
        name = self.fresh(base)
        self.inits.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, base, **attrs):
        out = self.fresh(base)
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _needed_layers(net, outputs):
    """Indices of the layers the outputs depend on (a backward slice of the graph)."""
    needed, want = [], set(outputs)
    for i in range(len(net.layers) - 1, -1, -1):
        tops = _tops(net, i)
        if want & set(tops):
            needed.append(i)
            for t in tops:
                if t not in _bottoms(net, i):
                    want.discard(t)
            want |= set(_bottoms(net, i))
    return sorted(needed)


def _param(layer, k):
    return np.asarray(layer.blobs[k].data, dtype=np.float32)


def _pool_attrs(p, in_hw):
    """Caffe's pooling geometry: kernel, stride, pad and output size (ceil rounding)."""
    if p.global_pooling:
        return None
    kh = p.kernel_h if p.HasField("kernel_h") else p.kernel_size
    kw = p.kernel_w if p.HasField("kernel_w") else p.kernel_size
    sh = p.stride_h if p.HasField("stride_h") else p.stride
    sw = p.stride_w if p.HasField("stride_w") else p.stride
    ph = p.pad_h if p.HasField("pad_h") else p.pad
    pw = p.pad_w if p.HasField("pad_w") else p.pad
    out = []
    for size, k, s, pad in ((in_hw[0], kh, sh, ph), (in_hw[1], kw, sw, pw)):
        o = int(np.ceil((size + 2 * pad - k) / s)) + 1
        if pad and (o - 1) * s >= size + pad:
            o -= 1
        out.append(o)
    return (kh, kw), (sh, sw), (ph, pw), tuple(out)


def _export_layer(b, layer, bottoms, tops_shapes, bottom_shapes):
    """Append the nodes of one layer; return the onnx names of its tops."""
    t = layer.type
    lp = layer.layer_param
    x = bottoms[0] if bottoms else None
    name = layer.name
    if t in ("Convolution", "Deconvolution"):
        p = lp.convolution_param
        k = list(p.kernel_size) or [p.kernel_h, p.kernel_w]
        kh, kw = (p.kernel_h, p.kernel_w) if p.HasField("kernel_h") else (k[0], k[-1])
        pads = list(p.pad) or [0]
        ph, pw = (p.pad_h, p.pad_w) if p.HasField("pad_h") else (pads[0], pads[-1])
        strides = list(p.stride) or [1]
        sh, sw = (p.stride_h, p.stride_w) if p.HasField("stride_h") else (strides[0], strides[-1])
        dil = list(p.dilation) or [1]
        inputs = [x, b.const(name + "_w", _param(layer, 0))]
        if p.bias_term:
            inputs.append(b.const(name + "_b", _param(layer, 1)))
        # Deconvolution: ONNX's ConvTranspose has Caffe's weight layout (in, out/group, kh, kw)
        # and output size stride * (in - 1) + dilation * (k - 1) + 1 - 2 * pad.
        op = "Conv" if t == "Convolution" else "ConvTranspose"
        return [b.node(op, inputs, name, kernel_shape=[kh, kw], pads=[ph, pw, ph, pw],
                       strides=[sh, sw], dilations=[dil[0], dil[-1]], group=p.group)]
    if t == "Pooling":
        p = lp.pooling_param
        if p.pool not in (0, 1):
            raise ExportError(f"Layer '{name}': STOCHASTIC pooling has no ONNX equivalent")
        geo = _pool_attrs(p, bottom_shapes[0][2:])
        if geo is None:
            return [b.node("GlobalMaxPool" if p.pool == 0 else "GlobalAveragePool", [x], name)]
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = geo
        h, w = bottom_shapes[0][2:]
        eh = (oh - 1) * sh + kh - h - 2 * ph  # extra end padding ONNX needs to see every window
        ew = (ow - 1) * sw + kw - w - 2 * pw
        eh, ew = max(eh, 0), max(ew, 0)
        if p.pool == 0:
            return [b.node("MaxPool", [x], name, kernel_shape=[kh, kw], strides=[sh, sw],
                           pads=[ph, pw, ph + eh, pw + ew])]
        if ph or pw:
            pads = b.const(name + "_pads", np.array([0, 0, ph, pw, 0, 0, ph, pw], np.int64))
            x = b.node("Pad", [x, pads], name + "_pad", mode="constant")
        return [b.node("AveragePool", [x], name, kernel_shape=[kh, kw], strides=[sh, sw],
                       pads=[0, 0, eh, ew], count_include_pad=0)]
    if t == "InnerProduct":
        p = lp.inner_product_param
        axis = p.axis if p.axis >= 0 else p.axis + len(bottom_shapes[0])
        if axis != 1 or len(bottom_shapes[0]) != 2:
            x = b.node("Flatten", [x], name + "_flat", axis=axis)
        inputs = [x, b.const(name + "_w", _param(layer, 0))]
        if p.bias_term:
            inputs.append(b.const(name + "_b", _param(layer, 1)))
        out = b.node("Gemm", inputs, name, transB=0 if p.transpose else 1)
        if axis != 1 and axis < len(tops_shapes[0]):
            shape = [-1] + list(tops_shapes[0][1:])
            out = b.node("Reshape", [out, b.const(name + "_shape", np.array(shape, np.int64))], name)
        return [out]
    if t == "ReLU":
        slope = lp.relu_param.negative_slope
        if slope:
            return [b.node("LeakyRelu", [x], name, alpha=float(slope))]
        return [b.node("Relu", [x], name)]
    if t in ("Sigmoid", "TanH", "AbsVal", "Exp"):
        op = {"Sigmoid": "Sigmoid", "TanH": "Tanh", "AbsVal": "Abs", "Exp": "Exp"}[t]
        if t == "Exp" and (lp.exp_param.base != -1 or lp.exp_param.scale != 1 or lp.exp_param.shift != 0):
            raise ExportError(f"Layer '{name}': Exp with base/scale/shift is not exported")
        return [b.node(op, [x], name)]
    if t == "Dropout":
        return [b.node("Identity", [x], name)]
    if t == "Softmax":
        axis = lp.softmax_param.axis
        return [b.node("Softmax", [x], name, axis=int(axis))]
    if t == "LRN":
        p = lp.lrn_param
        if p.norm_region == 0:
            return [b.node("LRN", [x], name, size=int(p.local_size), alpha=float(p.alpha),
                           beta=float(p.beta), bias=float(p.k))]
        pad = (p.local_size - 1) // 2
        sq = b.node("Mul", [x, x], name + "_sq")
        avg = b.node("AveragePool", [sq], name + "_avg", kernel_shape=[p.local_size] * 2,
                     pads=[pad] * 4, strides=[1, 1], count_include_pad=1)
        scaled = b.node("Mul", [avg, b.const(name + "_alpha", np.float32(p.alpha))], name + "_a")
        shifted = b.node("Add", [scaled, b.const(name + "_one", np.float32(1))], name + "_s")
        powed = b.node("Pow", [shifted, b.const(name + "_beta", np.float32(-p.beta))], name + "_p")
        return [b.node("Mul", [x, powed], name)]
    if t == "Concat":
        p = lp.concat_param
        axis = p.concat_dim if p.HasField("concat_dim") and not p.HasField("axis") else p.axis
        return [b.node("Concat", bottoms, name, axis=int(axis))]
    if t == "Eltwise":
        p = lp.eltwise_param
        PROD, SUM = 0, 1  # EltwiseParameter.EltwiseOp
        if p.operation == SUM:
            out = bottoms[0] if not p.coeff else b.node(
                "Mul", [bottoms[0], b.const(name + "_c0", np.float32(p.coeff[0]))], name + "_m0")
            for i, other in enumerate(bottoms[1:], 1):
                if p.coeff:
                    other = b.node("Mul", [other, b.const(name + f"_c{i}", np.float32(p.coeff[i]))],
                                   name + f"_m{i}")
                out = b.node("Add", [out, other], name)
            return [out]
        if p.operation == PROD:
            out = bottoms[0]
            for other in bottoms[1:]:
                out = b.node("Mul", [out, other], name)
            return [out]
        return [b.node("Max", bottoms, name)]
    if t in ("Flatten", "Reshape"):
        shape = [0] + list(tops_shapes[0][1:])
        return [b.node("Reshape", [x, b.const(name + "_shape", np.array(shape, np.int64))], name)]
    if t == "BatchNorm":
        p = lp.batch_norm_param
        if p.HasField("use_global_stats") and not p.use_global_stats:
            raise ExportError(f"Layer '{name}': BatchNorm with use_global_stats: false normalises "
                              "by batch statistics; an exported model needs the stored ones")
        factor = float(_param(layer, 2)[0])
        factor = 0.0 if factor == 0 else 1.0 / factor
        mean = _param(layer, 0) * factor
        var = _param(layer, 1) * factor
        c = mean.shape[0]
        return [b.node("BatchNormalization",
                       [x, b.const(name + "_g", np.ones(c, np.float32)),
                        b.const(name + "_bt", np.zeros(c, np.float32)),
                        b.const(name + "_m", mean), b.const(name + "_v", var)],
                       name, epsilon=float(p.eps))]
    if t in ("Scale", "Bias"):
        if len(bottoms) > 1:
            raise ExportError(f"Layer '{name}': {t} with a second bottom is not exported")
        p = lp.scale_param if t == "Scale" else lp.bias_param
        nd = len(bottom_shapes[0])
        axis = p.axis if p.axis >= 0 else p.axis + nd
        pshape = _param(layer, 0).shape
        bshape = list(pshape) + [1] * (nd - axis - len(pshape))
        out = x
        if t == "Scale":
            out = b.node("Mul", [x, b.const(name + "_s", _param(layer, 0).reshape(bshape))], name)
            if p.bias_term:
                out = b.node("Add", [out, b.const(name + "_b", _param(layer, 1).reshape(bshape))], name)
        else:
            out = b.node("Add", [x, b.const(name + "_b", _param(layer, 0).reshape(bshape))], name)
        return [out]
    if t == "Power":
        p = lp.power_param
        out = x
        if p.scale != 1:
            out = b.node("Mul", [out, b.const(name + "_sc", np.float32(p.scale))], name)
        if p.shift != 0:
            out = b.node("Add", [out, b.const(name + "_sh", np.float32(p.shift))], name)
        if p.power != 1:
            out = b.node("Pow", [out, b.const(name + "_pw", np.float32(p.power))], name)
        if out is x:
            out = b.node("Identity", [x], name)
        return [out]
    if t == "Split":
        return [x] * len(tops_shapes)
    if t == "Slice":
        p = lp.slice_param
        axis = p.slice_dim if p.HasField("slice_dim") and not p.HasField("axis") else p.axis
        axis = axis if axis >= 0 else axis + len(bottom_shapes[0])
        sizes = np.array([s[axis] for s in tops_shapes], np.int64)
        outs = [b.fresh(name) for _ in tops_shapes]
        b.nodes.append(b.helper.make_node("Split", [x, b.const(name + "_sizes", sizes)], outs,
                                          name=outs[0], axis=int(axis)))
        return outs
    from .onnx_layers_extra import EXPORTERS, NOT_EXPORTABLE

    if t in EXPORTERS:
        return EXPORTERS[t](b, layer, bottoms, tops_shapes, bottom_shapes)
    why = f": {NOT_EXPORTABLE[t]}" if t in NOT_EXPORTABLE else ""
    raise ExportError(f"Layer '{name}': type '{t}' cannot be exported to ONNX{why}")


def export_onnx(net, path=None, outputs=None, model_name="tscaffe"):
    """Build (and, with ``path``, save) the ONNX model of ``net``; returns the ModelProto."""
    import onnx
    from onnx import TensorProto, helper

    outputs = list(outputs or default_outputs(net))
    for o in outputs:
        if o not in net.blobs:
            raise ExportError(f"output blob '{o}' is not in the net (blobs: {list(net.blobs)})")
    needed = _needed_layers(net, outputs)
    used = set(outputs)
    for i in needed:
        used |= set(_bottoms(net, i))
    b = _Builder()
    graph_inputs = []
    for i in needed:
        layer = net.layers[i]
        if layer.type in _DATA_TYPES:
            for top in _tops(net, i):
                if top in used:
                    shape = net.blobs[top].shape
                    graph_inputs.append(helper.make_tensor_value_info(
                        top, TensorProto.FLOAT, ["N"] + list(shape[1:])))
                    b.names[top] = top
            continue
        if layer.type in _SKIP_TYPES:
            raise ExportError(f"Layer '{layer.name}' ({layer.type}) lies on the path to the "
                              f"outputs {outputs}: choose other outputs")
        bnames = _bottoms(net, i)
        missing = [bn for bn in bnames if bn not in b.names]
        if missing:
            raise ExportError(f"Layer '{layer.name}': bottom(s) {missing} have no exported producer")
        bottoms = [b.names[bn] for bn in bnames]
        tops = _tops(net, i)
        outs = _export_layer(b, layer, bottoms, [net.blobs[t].shape for t in tops],
                             [net.blobs[bn].shape for bn in bnames])
        for top, onnx_name in zip(tops, outs):
            b.names[top] = onnx_name
    graph_outputs = []
    for o in outputs:
        if b.names.get(o) == o:
            raise ExportError(f"output '{o}' is an input of the net: there is nothing to export")
        final = b.names[o]
        b.nodes.append(helper.make_node("Identity", [final], [o], name=o + "_out"))
        graph_outputs.append(helper.make_tensor_value_info(
            o, TensorProto.FLOAT, ["N"] + list(net.blobs[o].shape[1:])))
    if not graph_inputs:
        raise ExportError("the outputs do not depend on any input blob")
    graph = helper.make_graph(b.nodes, model_name, graph_inputs, graph_outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tscaffe")
    model.ir_version = 8
    onnx.checker.check_model(model)
    if path:
        from .io import atomic_write_bytes

        atomic_write_bytes(path, model.SerializeToString())
    return model
