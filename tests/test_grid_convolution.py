"""Convolution on a grid of real nets' shapes against the definition, loop by loop.

Reference: for every group and kernel offset (p, q), the strided view of the zero-padded
input that offset reads is multiplied into the output (``y[n, o, i, j] += W[o, c, p, q] *
xpad[n, c, i*s_h + p*d_h, j*s_w + q*d_w]``, the sum over c in one matrix product); backward
walks the same loops with the roles swapped. Threads off and forced on.
"""
import numpy as np
import pytest

from grid_support import assert_close, f64, run_layer, threads, uniform  # noqa: F401


def out_size(size, k, s, p, d):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def conv_reference(x, w, b, dy, stride, pad, dil, group):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, pad, dil
    oh, ow = out_size(h, kh, sh, ph, dh), out_size(wd, kw, sw, pw, dw)
    og = o // group
    xpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xpad[:, :, ph:ph + h, pw:pw + wd] = x
    y = np.zeros((n, o, oh, ow))
    dxpad, dw_ = np.zeros_like(xpad), np.zeros_like(w)
    for g in range(group):
        cs, os_ = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for p in range(kh):
            for q in range(kw):
                rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
                cols = slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)
                view = xpad[:, cs, rows, cols]                      # (n, cg, oh, ow)
                y[:, os_] += np.einsum("oc,nchw->nohw", w[os_, :, p, q], view)
                dw_[os_, :, p, q] += np.einsum("nohw,nchw->oc", dy[:, os_], view)
                dxpad[:, cs, rows, cols] += np.einsum("oc,nohw->nchw", w[os_, :, p, q], dy[:, os_])
    if b is not None:
        y += b[None, :, None, None]
    db = dy.sum(axis=(0, 2, 3))
    return y, dxpad[:, :, ph:ph + h, pw:pw + wd], dw_, db


# (n, c, h, w, num_output, (kh, kw), (sh, sw), (ph, pw), dilation, group, bias)
GRID = [
    (1, 3, 224, 224, 4, (7, 7), (2, 2), (3, 3), 1, 1, True),    # ResNet / GoogLeNet conv1
    (1, 3, 227, 227, 4, (11, 11), (4, 4), (0, 0), 1, 1, True),  # AlexNet / CaffeNet conv1
    (1, 2, 299, 299, 2, (3, 3), (2, 2), (0, 0), 1, 1, True),    # Inception-v3 conv1
    (1, 4, 27, 27, 6, (5, 5), (1, 1), (2, 2), 1, 2, True),      # AlexNet conv2, group 2
    (1, 4, 13, 13, 4, (3, 3), (1, 1), (1, 1), 1, 2, False),     # AlexNet conv4/5
    (2, 8, 56, 56, 8, (1, 1), (1, 1), (0, 0), 1, 1, True),      # 1x1 bottleneck
    (3, 4, 55, 55, 4, (3, 3), (2, 2), (1, 1), 1, 1, True),      # odd map, stride 2, batch 3
    (1, 2, 112, 111, 3, (3, 3), (1, 1), (1, 1), 1, 1, True),    # odd and even
    (1, 4, 28, 28, 4, (2, 2), (2, 2), (0, 0), 1, 1, True),      # even kernel
    (1, 256, 7, 7, 8, (3, 3), (1, 1), (1, 1), 1, 1, True),      # many channels, small map
    (1, 512, 14, 14, 16, (1, 1), (1, 1), (0, 0), 1, 1, True),
    (1, 8, 14, 14, 8, (3, 3), (1, 1), (1, 1), 1, 8, True),      # depthwise (MobileNet)
    (4, 4, 28, 28, 4, (3, 3), (1, 1), (2, 2), 2, 1, True),      # dilation 2, batch 4
    (1, 2, 27, 27, 2, (3, 3), (2, 2), (2, 2), 3, 1, True),      # dilation 3, stride 2
    (1, 4, 17, 17, 4, (1, 7), (1, 1), (0, 3), 1, 1, True),      # Inception-v3 1x7
    (1, 4, 17, 17, 4, (7, 1), (1, 1), (3, 0), 1, 1, True),      # Inception-v3 7x1
    (3, 3, 13, 12, 5, (5, 5), (4, 4), (2, 2), 1, 1, True),      # stride 4, batch 3
    # Weight gradients of 100k weights per group and more (computed as (O, K)).
    (1, 512, 7, 7, 512, (3, 3), (1, 1), (1, 1), 1, 1, True),    # ResNet-50 res5 3x3
    (1, 1024, 14, 14, 2048, (1, 1), (2, 2), (0, 0), 1, 1, False),  # res5a_branch1
    (2, 256, 9, 9, 256, (3, 3), (1, 1), (1, 1), 1, 2, True),    # two groups of 147k
]


def conv_text(o, k, s, p, d, g, bias, extra=""):
    return (f"type: 'Convolution' convolution_param {{ num_output: {o} kernel_h: {k[0]} "
            f"kernel_w: {k[1]} stride_h: {s[0]} stride_w: {s[1]} pad_h: {p[0]} pad_w: {p[1]} "
            f"dilation: {d} group: {g} bias_term: {'true' if bias else 'false'} {extra}}}")


def check_against_the_loops(n, c, h, w, o, k, s, p, d, g, bias, what):
    """Runs the layer on a grid case and compares it with conv_reference; the layer."""
    x = uniform((n, c, h, w), h * 7 + k[0])
    wt = uniform((o, c // g, k[0], k[1]), 3, -0.5, 0.5)
    params = [wt] + ([uniform((o,), 4)] if bias else [])
    layer, bottom, top, (dy,) = run_layer(conv_text(o, k, s, p, d, g, bias), [x], params=params, seed=h)
    y, dx, dw, db = conv_reference(f64(x), f64(wt), f64(params[1]) if bias else None, dy,
                                   s, p, (d, d), g)
    what = f"{what} conv {n}x{c}x{h}x{w} k{k} s{s} p{p} d{d} g{g}"
    assert_close(top[0].data, y, what + " forward")
    assert_close(bottom[0].diff, dx, what + " dx")
    assert_close(layer.blobs[0].diff, dw, what + " dW")
    if bias:
        assert_close(layer.blobs[1].diff, db, what + " db")
    return layer


@pytest.mark.parametrize("n,c,h,w,o,k,s,p,d,g,bias", GRID)
def test_convolution_grid(n, c, h, w, o, k, s, p, d, g, bias, threads):
    check_against_the_loops(n, c, h, w, o, k, s, p, d, g, bias, f"threads {threads}")
