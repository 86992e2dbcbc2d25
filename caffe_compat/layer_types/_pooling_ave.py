"""Caffe's pooling geometry (output size, windows, AVE divisor) and its AVE pooling path.

Shared by the Pooling layer's CAFFE engine and LRN's across-channel window sums; see
pooling.py for the rules.
"""
import math

from ..backend import xp
from ..parallel import over_batch
from ._workspace import Workspace

CEIL, FLOOR = 0, 1


def pooled_size(size, kernel, stride, pad, round_mode=CEIL):
    """Caffe's output length of one spatial axis."""
    span = (size + 2 * pad - kernel) / stride
    pooled = (math.ceil(span) if round_mode == CEIL else math.floor(span)) + 1
    if pad and (pooled - 1) * stride >= size + pad:
        pooled -= 1
    return pooled


def windows(padded, kernel, stride, out_hw):
    """(offset index, view) for each kernel offset, row-major: the elements it reads."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    for p in range(kh):
        for q in range(kw):
            yield p * kw + q, padded[..., p : p + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw]


def padded_extent(size, kernel, stride, pad, pooled):
    """Length of the padded axis that holds every window (ceil mode may pass H + 2*pad)."""
    return max(size + 2 * pad, (pooled - 1) * stride + kernel)


def ave_divisor(size, kernel, stride, pad, pooled, dtype):
    """pool_size of each output position along one axis (before clipping to the image)."""
    start = xp.arange(pooled) * stride - pad
    end = xp.minimum(start + kernel, size + pad)
    return (end - start).astype(dtype)


class AvePool:
    """AVE pooling of a (..., H, W) array with reusable scratch space (also used by LRN)."""

    def __init__(self, kernel, stride, pad):
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.ws = Workspace()

    def out_hw(self, h, w, round_mode=CEIL):
        return tuple(pooled_size(s, k, st, p, round_mode)
                     for s, k, st, p in zip((h, w), self.kernel, self.stride, self.pad))

    def _geometry(self, shape, out_hw, dtype):
        h, w = shape[-2:]
        (ph, pw), (kh, kw), (sh, sw) = self.pad, self.kernel, self.stride
        hp = padded_extent(h, kh, sh, ph, out_hw[0])
        wp = padded_extent(w, kw, sw, pw, out_hw[1])
        div = (ave_divisor(h, kh, sh, ph, out_hw[0], dtype)[:, None]
               * ave_divisor(w, kw, sw, pw, out_hw[1], dtype)[None, :])
        return (hp, wp), div

    def forward(self, x, y):
        h, w = x.shape[-2:]
        (ph, pw) = self.pad
        (hp, wp), div = self._geometry(x.shape, y.shape[-2:], x.dtype)
        padded, _ = self.ws.fresh("xpad", x.shape[:-2] + (hp, wp), x.dtype)

        def images(lo, hi):
            pad_part, y_part = padded[lo:hi], y[lo:hi]
            pad_part[..., ph : ph + h, pw : pw + w] = x[lo:hi]  # the border stays zero
            # Summed in window order, then divided, as Caffe does.
            y_part[...] = 0
            for _, view in windows(pad_part, self.kernel, self.stride, y.shape[-2:]):
                y_part += view
            with xp.errstate(divide="ignore", invalid="ignore"):  # empty windows: as Caffe
                y_part /= div

        over_batch(images, len(x), x.size)

    def backward(self, dy, dx):
        h, w = dx.shape[-2:]
        (ph, pw) = self.pad
        (hp, wp), div = self._geometry(dx.shape, dy.shape[-2:], dx.dtype)
        padded = self.ws.get("dpad", dx.shape[:-2] + (hp, wp), dx.dtype)
        share = self.ws.get("share", dy.shape, dy.dtype)

        def images(lo, hi):
            pad_part, share_part = padded[lo:hi], share[lo:hi]
            pad_part.fill(0)
            with xp.errstate(divide="ignore", invalid="ignore"):  # empty windows add nothing
                xp.divide(dy[lo:hi], div, out=share_part)
            for _, view in windows(pad_part, self.kernel, self.stride, dy.shape[-2:]):
                view += share_part
            dx[lo:hi] = pad_part[..., ph : ph + h, pw : pw + w]

        over_batch(images, len(dx), dx.size)
