"""Other clients' teachers, made from an ONNX model by editing its graph (tests and benches).

Each function writes a new .onnx file and returns its path. They cover the contracts a
client's classifier may come with: logits of another scale (``scaled``), probabilities
instead of logits (``softmax_output``), several outputs (``extra_outputs``), NHWC input
(``nhwc_input``), input wanted in [0, 1] (``unit_range_input``), a graph whose batch
dimension is fixed to 1 (``fixed_batch``), torchvision normalisation outside the graph
(``normalized_input``), a flat [N, 784] MLP contract with softmax output
(``flat_mlp_input``) and LeNet-5's padded 32x32 NHWC input (``padded_nhwc_input``).
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _load(src):
    return onnx.load(str(src))


def _save(model, dst):
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return str(dst)


def _rename_output(model, new_name):
    """Append nodes after the (single) output: returns (old output name, graph)."""
    g = model.graph
    old = g.output[0].name
    inner = old + "_inner"
    for node in g.node:
        node.output[:] = [inner if o == old else o for o in node.output]
        node.input[:] = [inner if i == old else i for i in node.input]
    return inner, g


def scaled(src, dst, factor):
    """The teacher's logits multiplied by ``factor`` (a Mul after the graph)."""
    model = _load(src)
    inner, g = _rename_output(model, None)
    g.initializer.append(numpy_helper.from_array(np.array(factor, np.float32), "logit_factor"))
    g.node.append(helper.make_node("Mul", [inner, "logit_factor"], [g.output[0].name]))
    return _save(model, dst)


def softmax_output(src, dst, factor=1.0):
    """The teacher outputs softmax probabilities (of its logits times ``factor``)."""
    model = _load(src)
    inner, g = _rename_output(model, None)
    g.initializer.append(numpy_helper.from_array(np.array(factor, np.float32), "logit_factor"))
    g.node.append(helper.make_node("Mul", [inner, "logit_factor"], ["scaled_logits"]))
    g.node.append(helper.make_node("Softmax", ["scaled_logits"], [g.output[0].name], axis=1))
    return _save(model, dst)


def extra_outputs(src, dst):
    """Two outputs: ``features`` (the logits' ReLU, shape [N, 10]) first, then the logits."""
    model = _load(src)
    g = model.graph
    logits = g.output[0]
    g.node.append(helper.make_node("Relu", [logits.name], ["features"]))
    features = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 10])
    g.output.insert(0, features)
    return _save(model, dst)


def nhwc_input(src, dst):
    """The graph takes [N, H, W, C] and transposes to NCHW inside."""
    model = _load(src)
    g = model.graph
    inp = g.input[0]
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    n, c, h, w = dims
    old = inp.name
    for node in g.node:
        node.input[:] = ["nchw" if i == old else i for i in node.input]
    g.node.insert(0, helper.make_node("Transpose", [old], ["nchw"], perm=[0, 3, 1, 2]))
    g.input.remove(inp)
    g.input.insert(0, helper.make_tensor_value_info(old, TensorProto.FLOAT, [n, h, w, c]))
    return _save(model, dst)


def unit_range_input(src, dst):
    """The teacher wants pixels in [0, 1]: a Mul by 255 in front undoes the graph's Div."""
    model = _load(src)
    g = model.graph
    old = g.input[0].name
    for node in g.node:
        node.input[:] = ["raw255" if i == old else i for i in node.input]
    g.initializer.append(numpy_helper.from_array(np.array(255.0, np.float32), "to_255"))
    g.node.insert(0, helper.make_node("Mul", [old, "to_255"], ["raw255"]))
    return _save(model, dst)


def fixed_batch(src, dst, batch=1):
    """The graph's batch dimension fixed to ``batch`` (input and output)."""
    model = _load(src)
    g = model.graph
    for value in list(g.input) + list(g.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = batch
    return _save(model, dst)


def _prepend(model, nodes, initializers, new_input_name):
    """Put ``nodes`` in front of the graph: they read the graph input, and the old first
    consumers read ``new_input_name`` instead."""
    g = model.graph
    old = g.input[0].name
    for node in g.node:
        node.input[:] = [new_input_name if i == old else i for i in node.input]
    for init in initializers:
        g.initializer.append(init)
    for k, node in enumerate(nodes):
        g.node.insert(k, node)
    return model


def normalized_input(src, dst, mean, std, to_inner=255.0):
    """A torchvision-style teacher: it wants (pixels / 255 - mean) / std (one channel); the
    graph turns that back into the original network's input ((unit * ``to_inner``): raw
    pixels by default, 255/256 for a network trained on Caffe's 1/256 scaled data)."""
    model = _prepend(_load(src), [
        helper.make_node("Mul", [_input_name(src), "norm_std"], ["unstd"]),
        helper.make_node("Add", ["unstd", "norm_mean"], ["unit"]),
        helper.make_node("Mul", ["unit", "norm_255"], ["raw_pixels"]),
    ], [numpy_helper.from_array(np.array(std, np.float32), "norm_std"),
        numpy_helper.from_array(np.array(mean, np.float32), "norm_mean"),
        numpy_helper.from_array(np.array(to_inner, np.float32), "norm_255")], "raw_pixels")
    return _save(model, dst)


def _new_input(model, shape):
    """The graph's first input replaced by one of ``shape`` (same name and type)."""
    g = model.graph
    old = g.input[0]
    g.input.remove(old)
    g.input.insert(0, helper.make_tensor_value_info(old.name, TensorProto.FLOAT, shape))
    return model


def flat_mlp_input(src, dst, softmax=True):
    """The contract of a Hinton-style MNIST MLP: input [N, 784] in [0, 1] (row-major
    28x28), probabilities out. Inside: x 255 and a Reshape to [N, 1, 28, 28] in front of
    the original network (raw pixels), a Softmax after it."""
    name = _input_name(src)
    model = _prepend(_load(src), [
        helper.make_node("Mul", [name, "flat_255"], ["flat_raw"]),
        helper.make_node("Reshape", ["flat_raw", "image_shape"], ["flat_image"]),
    ], [numpy_helper.from_array(np.array(255.0, np.float32), "flat_255"),
        numpy_helper.from_array(np.array([-1, 1, 28, 28], np.int64), "image_shape")],
        "flat_image")
    _new_input(model, ["N", 784])
    if softmax:
        inner, g = _rename_output(model, None)
        g.node.append(helper.make_node("Softmax", [inner], [g.output[0].name], axis=1))
    return _save(model, dst)


def padded_nhwc_input(src, dst, pad=2):
    """LeNet-5's contract: [N, 28 + 2 pad, 28 + 2 pad, 1] NHWC, the digit padded by ``pad``
    pixels. Inside: NHWC -> NCHW and the centre 28x28 cut out for the original network, so
    a resized (not padded) digit is seen shrunk by 28/32 and off its training size."""
    name = _input_name(src)
    size = 28 + 2 * pad
    model = _prepend(_load(src), [
        helper.make_node("Transpose", [name], ["pad_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Slice", ["pad_nchw", "pad_starts", "pad_ends", "pad_axes"],
                         ["pad_centre"]),
    ], [numpy_helper.from_array(np.array([pad, pad], np.int64), "pad_starts"),
        numpy_helper.from_array(np.array([pad + 28, pad + 28], np.int64), "pad_ends"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "pad_axes")], "pad_centre")
    _new_input(model, ["N", size, size, 1])
    return _save(model, dst)


def shifted_input(src, dst, offset):
    """A teacher that wants raw pixels + ``offset`` (it subtracts it first): fed raw pixels
    it sees images far from anything it was trained on."""
    model = _prepend(_load(src), [
        helper.make_node("Sub", [_input_name(src), "shift"], ["unshifted"]),
    ], [numpy_helper.from_array(np.array(offset, np.float32), "shift")], "unshifted")
    return _save(model, dst)


def _input_name(src):
    return _load(src).graph.input[0].name


def decomposed_softmax_output(src, dst):
    """Probabilities computed as Exp / ReduceSum (no Softmax node in the graph)."""
    model = _load(src)
    inner, g = _rename_output(model, None)
    g.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "class_axis"))
    g.node.append(helper.make_node("ReduceMax", [inner], ["row_max"], axes=[1], keepdims=1))
    g.node.append(helper.make_node("Sub", [inner, "row_max"], ["shifted"]))
    g.node.append(helper.make_node("Exp", ["shifted"], ["exps"]))
    g.node.append(helper.make_node("ReduceSum", ["exps", "class_axis"], ["total"], keepdims=1))
    g.node.append(helper.make_node("Div", ["exps", "total"], [g.output[0].name]))
    return _save(model, dst)
