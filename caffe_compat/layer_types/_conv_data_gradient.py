"""The data gradient of the convolution engine's onnxruntime backward candidates
(_conv_fast.py: ``ort``, ``gemm``, ``mixed``, and depthwise layers' ``dwx``), a pass timed
on its own (the ``"dx"`` pick):

- ``transpose``: onnxruntime's ``ConvTranspose`` of the output gradient by the weights;
- ``flipped`` (stride 1 only): a plain ``Conv`` of the output gradient by the flipped,
  transposed weights,
  ``dX[n, c, y, x] = sum_{o,p,q} dYpad[n, o, y + p*d, x + q*d] * W[o, c, k-1-p, k-1-q]``
  with ``dYpad`` padded by ``d*(k-1) - pad`` (and the same per group). MLAS runs Conv in
  cache-sized blocks on every thread, where its ConvTranspose is a GEMM and one col2im on
  a single thread: at two threads the flipped Conv takes half the time on the VGG
  student's layers;
- ``nchwc``: the same Conv by MLAS's direct kernels on its channel-blocked layout
  (_conv_nchwc.py), where they take the layer's shape.
"""
from ..backend import xp
from ..ort_ops import OrtOp
from . import _conv_nchwc

CANDIDATES = ("nchwc", "flipped", "transpose")
# The onnxruntime operator each candidate calls (FastConvolution's op kinds).
OPS = {"transpose": {"dxt"}, "flipped": {"dxf"}, "nchwc": {"dxc"}}
KINDS = ("dxt", "dxf", "dxc")


def flips(layer):
    """True when the data gradient can be a plain Conv (stride 1, the padding it needs not
    negative)."""
    return (tuple(layer.stride) == (1, 1) and layer.dilation[0] * (layer.kernel[0] - 1) >= layer.pad[0]
            and layer.dilation[1] * (layer.kernel[1] - 1) >= layer.pad[1])


def nchwc_form(layer):
    """The NCHWc form of the flipped Conv (from num_output channels to the input's)."""
    return _conv_nchwc.form(layer.num_output, layer.blobs[0].data.shape[1] * layer.group, layer.group)


def candidates(layer):
    """The candidates ``layer`` can take, in the order they are tried."""
    return [n for n in CANDIDATES if n == "transpose" or
            flips(layer) and (n != "nchwc" or nchwc_form(layer) is not None)]


def flipped_weights(layer):
    """The weights as the flipped Conv takes them: for each group, input and output
    channels exchanged and the kernel turned by 180 degrees."""
    w = layer.blobs[0].data
    o, cg, kh, kw = w.shape
    G = layer.group
    wf = layer.ws.get("fast_wf", (cg * G, o // G, kh, kw), xp.float32)
    wf.reshape(G, cg, o // G, kh, kw)[...] = \
        w.reshape(G, o // G, cg, kh, kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    return wf


def build(kind, layer, m, c, h, w):
    """The onnxruntime operator of op kind ``kind`` (KINDS) for input (m, c, h, w)."""
    L = layer
    o, (kh, kw), (oh, ow) = L.num_output, L.kernel, L.out_hw
    (ph, pw), (sh, sw), (dh, dw) = L.pad, L.stride, L.dilation
    qh, qw = dh * (kh - 1) - ph, dw * (kw - 1) - pw  # the flipped Conv's padding
    if kind == "dxt":
        full = [sh * (oh - 1) + dh * (kh - 1) + 1 - 2 * ph, sw * (ow - 1) + dw * (kw - 1) + 1 - 2 * pw]
        return OrtOp("ConvTranspose", {"dy": (m, o, oh, ow), "w": L.blobs[0].data.shape}, {"dx": (m, c, h, w)},
                     kernel_shape=[kh, kw], pads=[ph, pw, ph, pw], strides=[sh, sw],
                     dilations=[dh, dw], group=L.group, output_padding=[h - full[0], w - full[1]])
    if kind == "dxf":
        return OrtOp("Conv", {"dy": (m, o, oh, ow), "wf": (c, o // L.group, kh, kw)},
                     {"dx": (m, c, h, w)}, kernel_shape=[kh, kw], pads=[qh, qw, qh, qw],
                     dilations=[dh, dw], group=L.group)
    return _conv_nchwc.build(nchwc_form(L), (m, o, oh, ow), (m, c, h, w), L.group, (kh, kw), (qh, qw),
                             (1, 1), (dh, dw), False)


def run(fast, name, top, propagate_down, bottom):
    """Candidate ``name`` into the diffs of the bottoms that propagate down, by the
    operators of ``fast`` (a FastConvolution)."""
    L = fast.layer
    wf = None if name == "transpose" else flipped_weights(L)
    if name == "nchwc":
        wf = _conv_nchwc.weights(L.ws, "nchwc_wf", wf, nchwc_form(L), L.group)
    for i, (b, t) in enumerate(zip(bottom, top)):
        if propagate_down[i]:
            m, c, h, w = L._dims(b)
            dy = t.diff.reshape(m, L.num_output, *L.out_hw)
            dx = b.diff.reshape(m, c, h, w)
            if name == "transpose":
                fast._op("dxt", m, c, h, w)(dy=dy, w=L.blobs[0].data, dx=dx)
            elif name == "nchwc":
                fast._op("dxc", m, c, h, w)(x=dy, w=wf, y=dx)
            else:
                fast._op("dxf", m, c, h, w)(dy=dy, wf=wf, dx=dx)
