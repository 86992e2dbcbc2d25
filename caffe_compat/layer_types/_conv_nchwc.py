"""Convolutions by MLAS's direct kernels on onnxruntime's channel-blocked layout (NCHWc).

Besides im2col + SGEMM, MLAS (onnxruntime's CPU kernels) convolves directly on a layout
whose channels are cut into blocks of ``B`` (16 with AVX-512, 8 with AVX2): the blob
``(N, C, H, W)`` becomes ``(N, C/B, H, W, B)``. onnxruntime's graph optimiser rewrites a Conv
into ``ReorderInput -> nchwc.Conv -> ReorderOutput`` only when its weights are constants of
the model; a net's weights change at every iteration, so our one-operator Conv graphs never
get it. This module builds those three nodes itself and reorders the weights in numpy on
each call (a few microseconds: weights are small next to the blobs).

The forms the kernel takes (each checked against plain Conv when this was written, and by
tests/test_conv_engine.py against Caffe's loops):

- ``nchw``: one group, fewer input channels than ``B`` (a net's first layer): the input is
  read as it is; filter ``OIHWBo``: ``F[ob, c, p, q, j] = W[ob*B + j, c, p, q]``;
- ``blocked``: one group, input channels a multiple of 4 (ReorderInput's condition): the
  input is reordered, its channels padded with zeros to a multiple of ``B``; filter
  ``OIHWBiBo``: ``F[ob, cb, p, q, i, j] = W[ob*B + j, cb*B + i, p, q]``;
- ``depthwise``: group = input channels = output channels, a multiple of ``B``: filter
  ``OIHWBo`` with one input channel.

Output channels are padded to a multiple of ``B`` with zero filters (and zero bias), and
ReorderOutput drops them. Other groupings have no form here (the engine's other candidates
compute them). ``block()`` is 0 where onnxruntime has no NCHWc kernels (no AVX2, other
CPUs): the candidate is then never offered.
"""
from ..backend import xp
from ..ort_ops import NCHWC_DOMAIN, OrtOp, nchwc_block

# The channel block of MLAS's NCHWc kernels on this machine; 0 when it has none.
block = nchwc_block


def _up(n):
    b = block()
    return -(-n // b) * b


def form(cin, cout, group):
    """The NCHWc form of a convolution from ``cin`` to ``cout`` channels, or None."""
    b = block()
    if not b:
        return None
    if group == 1:
        if cin < b:
            return "nchw"
        return "blocked" if cin % 4 == 0 else None
    if group == cin == cout and cin % b == 0:
        return "depthwise"
    return None


def _weight_shape(f, cin, cout, group, kh, kw):
    return (_up(cout), _up(cin) if f == "blocked" else cin // group, kh, kw)


def build(f, x_shape, y_shape, group, kernel, pads, strides, dilations, bias):
    """The three-node graph ``x -> y`` (NCHW float32 both) with weights ``w`` in the form's
    layout (and a padded bias ``b`` when ``bias``)."""
    from onnx import helper

    cin, cout = x_shape[1], y_shape[1]
    ins = {"x": x_shape, "w": _weight_shape(f, cin, cout, group, *kernel)}
    if bias:
        ins["b"] = (_up(cout),)
    nodes = []
    src = "x"
    if f != "nchw":
        nodes.append(helper.make_node("ReorderInput", ["x"], ["xr"], domain=NCHWC_DOMAIN))
        src = "xr"
    nodes.append(helper.make_node("Conv", [src, "w"] + (["b"] if bias else []), ["yr"], domain=NCHWC_DOMAIN,
                                  kernel_shape=list(kernel), pads=[pads[0], pads[1], pads[0], pads[1]],
                                  strides=list(strides), dilations=list(dilations), group=group))
    nodes.append(helper.make_node("ReorderOutput", ["yr"], ["y"], domain=NCHWC_DOMAIN, channels=cout))
    return OrtOp("NchwcConv", ins, {"y": y_shape}, nodes=nodes)


def weights(ws, name, w, f, group):
    """``w`` (O, C/G, kh, kw) in the form's layout, in the workspace array ``name`` (its
    padding stays zero: only the real filters are ever written)."""
    o, cg, kh, kw = w.shape
    out = ws.get(name, _weight_shape(f, cg * group, o, group, kh, kw), xp.float32)
    op, cp = out.shape[:2]
    src = w
    if (op, cp) != (o, cg):
        src = ws.get(name + "_pad", out.shape, xp.float32)
        src[:o, :cg] = w
    b = block()
    if f == "blocked":
        out.reshape(op // b, cp // b, kh, kw, b, b)[...] = \
            src.reshape(op // b, b, cp // b, b, kh, kw).transpose(0, 2, 4, 5, 3, 1)
    else:
        out.reshape(op // b, cp, kh, kw, b)[...] = src.reshape(op // b, b, cp, kh, kw).transpose(0, 2, 3, 4, 1)
    return out


def bias(ws, name, b):
    out = ws.get(name, (_up(b.shape[0]),), xp.float32)
    out[:b.shape[0]] = b
    return out
