"""A convolution's weight gradient in chunks of images (the fast engine's ``tiled`` backward).

Caffe's weight gradient is one long-K product over the whole batch's columns,
``dW = dY col^T`` with ``col`` (C*kh*kw, M*P). On the small-channel layers of the CIFAR and
VGG nets those columns are tens of megabytes (cifar10_quick's conv2 at batch 100: 82 MB),
written by im2col to main memory and read back by the GEMM, which then runs at half the
SGEMM rate (MLAS: 13.3 ms, against 6.7 at its rate on cached operands). Here the batch goes
through in chunks of images whose columns stay in the cache (``CHUNK_BYTES``): the chunk's
im2col (Caffe's, into a workspace of its own), the chunk's product by onnxruntime's Gemm,
added to a running sum; the sum is added to the weight diff at the end. The same products
as Caffe's, summed in another order (float32 rounding). The data gradient is the
timed one of _conv_data_gradient.py, as for the ``gemm`` candidate.
"""
from ..backend import xp
from ..ort_ops import OrtOp
from ._conv_columns import DW_ROWS_MIN

# Columns per chunk, at most. Measured on the CIFAR and VGG layers, 1 thread (weight
# gradient ms, whole batch against chunks of 0.5 / 1 / 2 / 4 / 8 MB): cifar10_quick conv2
# 25.9 against 26.3 / 25.3 / 23.1 / 21.2 / 21.8; VGG-16 w0.25 conv1_2 7.0 against 7.1 / 5.8 /
# 5.0 / 4.6 / 4.6. Chunks beyond a core's L2 (1 MB here) but well within the shared L3.
CHUNK_BYTES = 4 << 20


def images_per_chunk(layer, m, c):
    """The most images, dividing ``m``, whose columns fit in CHUNK_BYTES (at least 1)."""
    kh, kw = layer.kernel
    per_image = c * kh * kw * layer.out_hw[0] * layer.out_hw[1] * 4
    best = 1
    for b in range(1, m + 1):
        if m % b == 0 and b * per_image <= CHUNK_BYTES:
            best = b
    return best


def applicable(layer, m, c):
    """True when the batch's columns take more than one chunk (else this is ``gemm``)."""
    return images_per_chunk(layer, m, c) < m


def _rows(layer, c):
    """True when one group's gradient is computed as (O/G, K/G) (as convolution.py does)."""
    kh, kw = layer.kernel
    return (layer.num_output // layer.group) * (c // layer.group * kh * kw) >= DW_ROWS_MIN


def build(layer, m, c, h, w):
    """One group's product for one chunk: (O/G, N) x (K/G, N)^T, or its transpose."""
    kh, kw = layer.kernel
    n = images_per_chunk(layer, m, c) * layer.out_hw[0] * layer.out_hw[1]
    kg, og = c // layer.group * kh * kw, layer.num_output // layer.group
    if _rows(layer, c):
        return OrtOp("Gemm", {"dy": (og, n), "col": (kg, n)}, {"out": (og, kg)}, transB=1)
    return OrtOp("Gemm", {"col": (kg, n), "dy": (og, n)}, {"out": (kg, og)}, transB=1)


def weight_gradient(fast, top, bottom):
    """Adds dW (and db) of every bottom to the layer's parameter diffs."""
    L = fast.layer
    o, G = L.num_output, L.group
    og = o // G
    p = L.out_hw[0] * L.out_hw[1]
    for b, t in zip(bottom, top):
        m, c, h, w = L._dims(b)
        kg = c // G * L.kernel[0] * L.kernel[1]
        x4 = b.data.reshape(m, c, h, w)
        dy = t.diff.reshape(m, o, p)
        step = images_per_chunk(L, m, c)
        op = fast._op("tiled", m, c, h, w)
        rows = _rows(L, c)
        part = L.ws.get("tiled_part", (og, kg) if rows else (kg, og), xp.float32)
        total = L.ws.get("tiled_total", (G,) + part.shape, xp.float32, zero=True)
        for lo in range(0, m, step):
            col = L._im2col(x4[lo:lo + step], "_tiled")
            dy2 = L._dy_matrix(dy[lo:lo + step], "tiled_dy2")
            for g in range(G):
                op(col=col[g * kg:(g + 1) * kg], dy=dy2[g * og:(g + 1) * og], out=part)
                total[g] += part
        wd3 = L.blobs[0].diff.reshape(G, og, kg)
        wd3 += total if rows else total.transpose(0, 2, 1)
        if L.bias_term:
            L._bias_gradient_per_image(dy)
