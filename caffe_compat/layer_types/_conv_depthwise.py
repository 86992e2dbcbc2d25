"""Depthwise convolution (group = channels = num_output, MobileNet's 3x3 layers) by kernel
offsets, a candidate of the fast engine (_conv_fast.py).

Caffe's path runs one GEMM per group: for 512 channels, 512 tiny products a pass and as
many Python calls. Here each kernel offset ``(p, q)`` is one whole-array pass over the
strided view of the padded input that offset reads (``V_pq[n, c, i, j] = Xpad[n, c,
i*sh + p*dh, j*sw + q*dw]``):

    Y  = b + sum_pq W[:, 0, p, q] * V_pq
    dW[:, 0, p, q] = sum_{n,i,j} dY * V_pq
    dXpad[view pq] += W[:, 0, p, q] * dY

The same sums as Caffe's in another order: equal to float32 rounding. The padded input and
its gradient live in the layer's workspace (the border stays zero).
"""
from ..backend import xp
from ..parallel import over_batch


def is_depthwise(layer):
    return layer.group > 1 and layer.group == layer.channels == layer.num_output


def _views(layer, padded):
    """(p, q, view of ``padded`` (M, C, Hp, Wp) that offset (p, q) reads): the layer's own
    window views (its channel-major layout indexes the same last two axes)."""
    return layer._windows(padded, False)


def _padded(layer, x, name):
    m, c, h, w = x.shape
    ph, pw = layer.pad
    if (ph, pw) == (0, 0):
        return x
    padded, _ = layer.ws.fresh(name, (m, c, h + 2 * ph, w + 2 * pw), x.dtype)
    over_batch(lambda lo, hi: padded[lo:hi, :, ph:ph + h, pw:pw + w].__setitem__(Ellipsis, x[lo:hi]),
               m, x.size)
    return padded


def forward(layer, bottom, top):
    w = layer.blobs[0].data
    c = layer.channels
    for i, (b, t) in enumerate(zip(bottom, top)):
        m, _, h, wd = layer._dims(b)
        x = b.data.reshape(m, c, h, wd)
        y = t.data.reshape(m, c, *layer.out_hw)
        padded = _padded(layer, x, f"dw_pad{i}")
        tmp = layer.ws.get("dw_tmp", y.shape, y.dtype)

        def images(lo, hi):
            first = True
            for p, q, view in _views(layer, padded[lo:hi]):
                coef = w[:, 0, p, q].reshape(1, c, 1, 1)
                if first:
                    xp.multiply(view, coef, out=y[lo:hi])
                    first = False
                else:
                    xp.multiply(view, coef, out=tmp[lo:hi])
                    y[lo:hi] += tmp[lo:hi]
            if layer.bias_term:
                y[lo:hi] += layer.blobs[1].data.reshape(1, c, 1, 1)

        over_batch(images, m, y.size * layer.kernel[0] * layer.kernel[1])


def backward(layer, top, propagate_down, bottom):
    w = layer.blobs[0].data
    wd_ = layer.blobs[0].diff
    c = layer.channels
    for i, (b, t) in enumerate(zip(bottom, top)):
        m, _, h, wd = layer._dims(b)
        dy = t.diff.reshape(m, c, *layer.out_hw)
        if layer.bias_term:
            layer._bias_gradient_per_image(dy.reshape(m, c, -1))
        padded = _padded(layer, b.data.reshape(m, c, h, wd), f"dw_pad{i}")
        tmp = layer.ws.get("dw_tmp", dy.shape, dy.dtype)
        # The weight gradient: a reduction, so one piece (never split across threads).
        for p, q, view in _views(layer, padded):
            xp.multiply(view, dy, out=tmp)
            wd_[:, 0, p, q] += tmp.sum(axis=(0, 2, 3))
        if not propagate_down[i]:
            continue
        ph, pw = layer.pad
        dx = b.diff.reshape(m, c, h, wd)
        dpad = layer.ws.get("dw_dpad", (m, c, h + 2 * ph, wd + 2 * pw), dy.dtype)

        def images(lo, hi):
            dpad[lo:hi].fill(0)
            for p, q, view in _views(layer, dpad[lo:hi]):
                xp.multiply(dy[lo:hi], w[:, 0, p, q].reshape(1, c, 1, 1), out=tmp[lo:hi])
                view += tmp[lo:hi]
            dx[lo:hi] = dpad[lo:hi, :, ph:ph + h, pw:pw + wd]

        over_batch(images, m, dy.size * layer.kernel[0] * layer.kernel[1])
