"""A convolution's weight gradient, the fast engine's three ways (_conv_fast.py's backward
candidates ``ort``, ``gemm`` and ``tiled``; ``mixed`` and ``caffe`` take Caffe's own):

- ``dw`` (candidate ``ort``, one group): a convolution itself, of the input (channels as the
  batch) by the output gradient (images as the channels), with stride and dilation
  exchanged: ``dW[o, c, p, q] = sum_{n,i,j} dY[n, o, i, j] * Xpad[n, c, i*s + p*d, j*s + q*d]``.
- ``gemm``: Caffe's long-K product ``dW = dY col^T`` on the whole batch's columns (those of
  Caffe's forward where it ran), by onnxruntime's Gemm (MLAS runs these products up to 3x
  faster than OpenBLAS here).
- ``tiled``: the same product in chunks of images whose columns stay in the cache
  (``CHUNK_BYTES``), offered where the batch's columns exceed one chunk. On the
  small-channel layers of the CIFAR and VGG nets the whole batch's columns are tens of
  megabytes (cifar10_quick's conv2 at batch 100: 82 MB), written by im2col to main memory and
  read back by the GEMM, which then runs at half the SGEMM rate (MLAS: 13.3 ms, against 6.7
  at its rate on cached operands). Per chunk: its im2col (Caffe's, into a workspace of its
  own), its product, added to a running sum, added to the weight diff at the end.

All three compute Caffe's sums in another order (float32 rounding). One group's gradient is
computed as (O/G, K/G) where it has DW_ROWS_MIN weights or more, else as (K/G, O/G) and
added transposed (as convolution.py does).
"""
from ..backend import xp
from ..ort_ops import OrtOp
from ..parallel import over_batch
from ._conv_columns import DW_ROWS_MIN

KINDS = ("dw", "gemm", "tiled")
# Columns per chunk, at most. Measured on the CIFAR and VGG layers, 1 thread (weight
# gradient ms, whole batch against chunks of 0.5 / 1 / 2 / 4 / 8 MB): cifar10_quick conv2
# 25.9 against 26.3 / 25.3 / 23.1 / 21.2 / 21.8; VGG-16 w0.25 conv1_2 7.0 against 7.1 / 5.8 /
# 5.0 / 4.6 / 4.6. Chunks beyond a core's L2 (1 MB here) but well within the shared L3.
CHUNK_BYTES = 4 << 20


def _column_bytes(layer, c):
    """One image's float32 columns."""
    kh, kw = layer.kernel
    return c * kh * kw * layer.out_hw[0] * layer.out_hw[1] * 4


def images_per_chunk(layer, m, c):
    """The most images, dividing ``m``, whose columns fit in CHUNK_BYTES (at least 1)."""
    most = CHUNK_BYTES // _column_bytes(layer, c)
    return max([b for b in range(1, min(m, most) + 1) if m % b == 0], default=1)


def tiled_applicable(layer, m, c):
    """True when the batch's columns take more than one chunk (else ``tiled`` is ``gemm``)."""
    return m * _column_bytes(layer, c) > CHUNK_BYTES


def _group_dims(layer, c):
    """(O/G, K/G, rows): one group's outputs and column rows, and whether its gradient is
    computed as (O/G, K/G)."""
    kh, kw = layer.kernel
    og, kg = layer.num_output // layer.group, c // layer.group * kh * kw
    return og, kg, og * kg >= DW_ROWS_MIN


def _extent(layer, h, w):
    """The kernel extent the ``dw`` convolution computes (at least the kernel's; cut after)."""
    (ph, pw), (sh, sw), (dh, dw) = layer.pad, layer.stride, layer.dilation
    oh, ow = layer.out_hw
    return ((h + 2 * ph - (sh * (oh - 1) + 1)) // dh + 1, (w + 2 * pw - (sw * (ow - 1) + 1)) // dw + 1)


def build(kind, layer, m, c, h, w):
    """The onnxruntime operator of ``kind`` for input (m, c, h, w)."""
    o, (oh, ow) = layer.num_output, layer.out_hw
    if kind == "dw":
        (ph, pw), (sh, sw), (dh, dw) = layer.pad, layer.stride, layer.dilation
        return OrtOp("Conv", {"xt": (c, m, h, w), "dyt": (o, m, oh, ow)},
                     {"dwt": (c, o) + _extent(layer, h, w)}, kernel_shape=[oh, ow],
                     pads=[ph, pw, ph, pw], strides=[dh, dw], dilations=[sh, sw])
    images = images_per_chunk(layer, m, c) if kind == "tiled" else m
    n = images * oh * ow
    og, kg, rows = _group_dims(layer, c)
    if rows:
        return OrtOp("Gemm", {"dy": (og, n), "col": (kg, n)}, {"out": (og, kg)}, transB=1)
    return OrtOp("Gemm", {"col": (kg, n), "dy": (og, n)}, {"out": (kg, og)}, transB=1)


def run(fast, kind, top, bottom):
    """Adds dW (and db) of every bottom to the layer's parameter diffs."""
    L = fast.layer
    if kind == "dw":
        _by_convolution(fast, top, bottom)
    else:
        _by_products(fast, kind, top, bottom)
    if L.bias_term:
        for t in top:
            L._bias_gradient_per_image(t.diff.reshape(-1, L.num_output, L.out_hw[0] * L.out_hw[1]))


def _by_convolution(fast, top, bottom):
    L = fast.layer
    o = L.num_output
    kh, kw = L.kernel
    for i, (b, t) in enumerate(zip(bottom, top)):
        m, c, h, w = L._dims(b)
        xt = L.ws.get(f"fast_xt{i}", (c, m, h, w), xp.float32)
        dyt = L.ws.get("fast_dyt", (o, m) + L.out_hw, xp.float32)
        dwt = L.ws.get("fast_dwt", (c, o) + _extent(L, h, w), xp.float32)
        x4 = b.data.reshape(m, c, h, w)
        dy = t.diff.reshape(m, o, *L.out_hw)
        over_batch(lambda lo, hi: xt[lo:hi].__setitem__(Ellipsis, x4[:, lo:hi].transpose(1, 0, 2, 3)), c, x4.size)
        over_batch(lambda lo, hi: dyt[lo:hi].__setitem__(Ellipsis, dy[:, lo:hi].transpose(1, 0, 2, 3)), o, dy.size)
        fast._op("dw", m, c, h, w)(xt=xt, dyt=dyt, dwt=dwt)
        L.blobs[0].diff += dwt[:, :, :kh, :kw].transpose(1, 0, 2, 3)


def _by_products(fast, kind, top, bottom):
    L = fast.layer
    G, p = L.group, L.out_hw[0] * L.out_hw[1]
    if kind == "gemm":
        fast._columns(bottom)
    for i, (b, t) in enumerate(zip(bottom, top)):
        m, c, h, w = L._dims(b)
        og, kg, rows = _group_dims(L, c)
        dy = t.diff.reshape(m, L.num_output, p)
        op = fast._op(kind, m, c, h, w)
        part = L.ws.get("fast_dw_part", (og, kg) if rows else (kg, og), xp.float32)
        wd3 = L.blobs[0].diff.reshape(G, og, kg)
        step = op.inputs["col"][1] // p  # the images of the chunk the operator was built for
        # Chunks are summed first, then added to the diff once (as one product would be).
        total = wd3 if step == m else L.ws.get("fast_dw_total", (G, og, kg), xp.float32, zero=True)
        for lo in range(0, m, step):
            if kind == "tiled":
                col = L._im2col(b.data.reshape(m, c, h, w)[lo:lo + step], "_tiled")
                dy2 = L._dy_matrix(dy[lo:lo + step], "tiled_dy2")
            else:
                col = L.ws.get(f"col{i}", (c * L.kernel[0] * L.kernel[1], m * p), xp.float32)
                dy2 = L._dy_matrix(dy)
            for g in range(G):
                op(col=col[g * kg:(g + 1) * kg], dy=dy2[g * og:(g + 1) * og], out=part)
                total[g] += part if rows else part.T
        if total is not wd3:
            wd3 += total
