"""Pooling: MAX or AVE over kernel_h x kernel_w windows of each channel, Caffe's way.

Output size (CEIL, the default round_mode): ``pooled = ceil((H + 2*pad - k) / stride) + 1``
(FLOOR: floor); then, when pad > 0, ``if (pooled - 1) * stride >= H + pad: pooled -= 1``
so the last window starts inside the image or its left/top padding.

Window of output (i, j): rows ``hstart = i*stride_h - pad_h`` .. ``hstart + kernel_h``.
- MAX: ``y = max`` over the window clipped to the image (padding never wins); backward
  routes the gradient to the first maximum in row-major window order (ties -> first).
  An optional second top receives that position as ``h * W + w`` (Caffe's mask).
  Ceil mode with a kernel smaller than the stride and no pad can leave the last window
  wholly outside the image: Caffe outputs -FLT_MAX and mask -1 there, as here; its
  backward then writes before the plane (out of bounds: memory corruption), here those
  outputs pass no gradient.
- AVE: ``y = sum(window clipped to the image) / pool_size`` where
  ``pool_size = (min(hstart + kh, H + pad_h) - hstart) * (min(wstart + kw, W + pad_w) - wstart)``,
  i.e. padding counts, but nothing beyond the padded image; backward spreads dy / pool_size.
  (A window wholly past the image, see MAX, has pool_size 0 or less: 0 / 0 = NaN, or -0.)

pooling_param (caffe.proto defaults): pool MAX; kernel_size or kernel_h + kernel_w
(required unless global_pooling); stride 1 (or stride_h/stride_w); pad 0 (or pad_h/pad_w);
global_pooling false (kernel = whole H x W, needs pad 0 and stride 1); round_mode CEIL.
STOCHASTIC pooling is not supported. Bottom must be 4-D (N, C, H, W).

pooling_param.engine: ``CAFFE`` runs the code below (Caffe's own order of operations);
``DEFAULT``/``CUDNN`` run the fast engine of _pooling_fast.py on float32 blobs (same results:
MAX bit for bit, ties included; AVE to float32 rounding), see caffe_compat.engines.
"""
import math

from .. import engines
from ..backend import xp
from ..parallel import over_batch
from ._pooling_fast import FastPool, WholeImageAve
from ._index import index_dtype
from ._workspace import Workspace
from .base import Layer, register

MAX, AVE, STOCHASTIC = 0, 1, 2
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


def _field(p, name, h_name, w_name, layer, default=None):
    """Caffe's pooling rules: ``name`` OR (``h_name`` and ``w_name``)."""
    has, has_h, has_w = p.HasField(name), p.HasField(h_name), p.HasField(w_name)
    if has_h or has_w:
        if has or not (has_h and has_w):
            raise layer.error(f"{name} is {name} OR {h_name} and {w_name}; not both, and both of the latter")
        return int(getattr(p, h_name)), int(getattr(p, w_name))
    if default is not None and not has:
        return default, default
    v = int(getattr(p, name))
    return v, v


@register("Pooling")
class PoolingLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    MIN_TOP = 1
    MAX_TOP = 2

    def setup(self, bottom, top):
        p = self.layer_param.pooling_param
        self.method = p.pool
        if self.method == STOCHASTIC:
            raise self.error("STOCHASTIC pooling is not supported (use MAX or AVE)")
        if self.method not in (MAX, AVE):
            raise self.error(f"unknown pooling method {self.method}")
        if len(top) > 1 and self.method != MAX:
            raise self.error(f"only MAX pooling has a second (mask) top; got {len(top)} tops")
        self.global_pooling = bool(p.global_pooling)
        has_kernel = p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w")
        if self.global_pooling:
            if has_kernel:
                raise self.error("with global_pooling: true the filter size cannot be specified")
        elif not has_kernel:
            raise self.error("kernel_size (or kernel_h and kernel_w) is required")
        else:
            self.kernel = _field(p, "kernel_size", "kernel_h", "kernel_w", self)
            if min(self.kernel) <= 0:
                raise self.error("filter dimensions cannot be zero")
        self.pad = _field(p, "pad", "pad_h", "pad_w", self, default=0) if (
            p.HasField("pad_h") or p.HasField("pad_w")) else (int(p.pad), int(p.pad))
        self.stride = _field(p, "stride", "stride_h", "stride_w", self, default=1) if (
            p.HasField("stride_h") or p.HasField("stride_w")) else (int(p.stride), int(p.stride))
        if min(self.stride) <= 0:
            raise self.error("stride must be > 0")
        self.round_mode = p.round_mode
        if self.global_pooling:
            if self.pad != (0, 0) or self.stride != (1, 1):
                raise self.error("with global_pooling: true only pad = 0 and stride = 1 are allowed")
        elif self.pad[0] >= self.kernel[0] or self.pad[1] >= self.kernel[1]:
            raise self.error(
                f"pad ({self.pad[0]} x {self.pad[1]}) must be smaller than the kernel "
                f"({self.kernel[0]} x {self.kernel[1]})"
            )
        self.engine = engines.resolve(p.engine)
        self.fast = None
        self._fast_done = False
        self.ws = Workspace()
        self.ave = None
        self._index_shape = None
        self._empty_rows = self._empty_cols = []

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != 4:
            raise self.error("input must have 4 axes, corresponding to (num, channels, height, width)",
                             bottom0=shape)
        n, c, h, w = shape
        if self.global_pooling:
            self.kernel = (h, w)
        for size, k, pad in zip((h, w), self.kernel, self.pad):
            if size + 2 * pad < k:
                raise self.error(
                    f"kernel {self.kernel[0]} x {self.kernel[1]} is larger than the padded input "
                    f"(pad {self.pad[0]} x {self.pad[1]})", bottom0=shape)
        self.out_hw = tuple(pooled_size(s, k, st, p, self.round_mode)
                            for s, k, st, p in zip((h, w), self.kernel, self.stride, self.pad))
        for t in top:
            t.reshape(n, c, *self.out_hw)
        if self.method == AVE and (self.ave is None or self.ave.kernel != self.kernel):
            self.ave = AvePool(self.kernel, self.stride, self.pad)
        self.in_hw = (h, w)
        self.fast = self._fast_engine(bottom[0].data.dtype, shape)
        if self.method == MAX and not self._tiled_2x2(shape) and self._index_shape != shape:
            self._index_bases(n, c, h, w)
            self._index_shape = shape
            (sh, sw), (ph, pw), (oh, ow) = self.stride, self.pad, self.out_hw
            self._empty_rows = [i for i in range(oh) if i * sh - ph >= h]
            self._empty_cols = [j for j in range(ow) if j * sw - pw >= w]

    def _fast_engine(self, dtype, shape):
        """The fast engine's kernel for this shape, or None: Caffe's path (engine CAFFE,
        float64, or ceil-mode windows wholly outside the image)."""
        if self.engine != engines.FAST or dtype != xp.float32:
            return None
        (h, w), (oh, ow) = shape[2:], self.out_hw
        (sh, sw), (ph, pw) = self.stride, self.pad
        if (oh - 1) * sh - ph >= h or (ow - 1) * sw - pw >= w:
            return None
        key = (self.method, tuple(shape), self.kernel, self.stride, self.pad, self.out_hw)
        if self.fast is not None and self._fast_key == key:
            return self.fast
        self._fast_key = key
        if self.method == AVE and self.kernel == (h, w) and self.pad == (0, 0) and (oh, ow) == (1, 1):
            return WholeImageAve(shape)
        return FastPool(self.method == MAX, shape, self.kernel, self.stride, self.pad, self.out_hw)

    def _tiled(self, shape):
        """Windows tile the image exactly (stride == kernel, no pad)."""
        h, w = shape[2:]
        (kh, kw), (oh, ow) = self.kernel, self.out_hw
        return self.pad == (0, 0) and self.stride == self.kernel and (h, w) == (oh * kh, ow * kw)

    def forward(self, bottom, top):
        x, y = bottom[0].data, top[0].data
        self._fast_done = self.fast is not None and self.fast.forward(x, y)
        if self._fast_done:
            if len(top) > 1:
                self.fast.mask(top[1].data)
            return
        if self.method == AVE:
            self.ave.forward(x, y)
            return
        if not self._tiled_2x2(x.shape):
            self._max_general(x, y)
            self._mark_empty(y, -xp.finfo(xp.float32).max)
            if len(top) > 1:
                top[1].data[...] = self._argmax_in_plane(y.shape)
                self._mark_empty(top[1].data, -1)
            return
        arg = self._max_2x2(x, y, want_arg=len(top) > 1)
        if len(top) > 1:
            rows = (xp.arange(self.out_hw[0]) * 2)[:, None] + arg // 2
            cols = (xp.arange(self.out_hw[1]) * 2)[None, :] + arg % 2
            top[1].data[...] = rows * x.shape[3] + cols

    def _mark_empty(self, a, value):
        """``value`` at the outputs whose window lies wholly outside the image."""
        if self._empty_rows:
            a[..., self._empty_rows, :] = value
        if self._empty_cols:
            a[..., self._empty_cols] = value

    def _tiled_2x2(self, shape):
        return self.kernel == (2, 2) and self._tiled(shape)

    def _max_2x2(self, x, y, want_arg):
        """2x2/2 tiling (LeNet's pools): the max of the 4 strided views, then a one-hot mask
        of each window's first maximum, kept for backward (dx = upsampled dy * mask).

        The mask is ``x == y`` upsampled; where a window holds the maximum more than once
        (or a NaN), the later hits are cleared so the first in window order stays.
        """
        n, c, h, w = x.shape
        per_image, ow = c * self.out_hw[0], self.out_hw[1]
        rows = n * per_image
        hit = self.ws.get("hit4", (rows, 2, ow, 2), bool)
        pair = self.ws.get("pair", (rows, ow), xp.uint64)
        row0 = self.ws.get("row0", (rows, ow), bool)
        up = self.ws.get("up4", (rows, 2, ow, 2), x.dtype)

        def images(lo, hi):
            xs, ys, r = x[lo:hi], y[lo:hi], slice(lo * per_image, hi * per_image)
            views = [view for _, view in windows(xs, self.kernel, self.stride, self.out_hw)]
            xp.maximum(views[0], views[1], out=ys)
            xp.maximum(ys, views[2], out=ys)
            xp.maximum(ys, views[3], out=ys)
            h4 = hit[r]
            xp.equal(xs.reshape(-1, 2, ow, 2), self._upsample_2x2(ys.reshape(-1, ow), pair[r], up[r]), out=h4)
            # A NaN anywhere makes the sum NaN (a reduction: no array allocated).
            if xp.count_nonzero(h4) != ys.size or xp.isnan(xp.sum(ys)):
                # Keep q = 1 only without a hit at q = 0, row p = 1 only without one in row 0.
                xp.greater(h4[..., 1], h4[..., 0], out=h4[..., 1])
                xp.logical_or(h4[:, 0, :, 0], h4[:, 0, :, 1], out=row0[r])
                xp.greater(h4[:, 1], row0[r][:, :, None], out=h4[:, 1])

        over_batch(images, n, x.size)
        if not want_arg:
            return None
        arg = hit[:, 0, :, 1] * xp.int32(1) + hit[:, 1, :, 0] * xp.int32(2) + hit[:, 1, :, 1] * xp.int32(3)
        return arg.reshape(y.shape)

    @staticmethod
    def _upsample_2x2(a, pair, out):
        """(R, W) -> (R, 2, W, 2) written into ``out``: every element repeated over a 2x2
        block; ``pair`` is (R, W) uint64 scratch. Returns ``out``."""
        rows, ow = a.shape
        if a.dtype.itemsize == 4:
            # Both copies at once: the 32 bits into a 64-bit word, times 2**32 + 1.
            xp.multiply(a.view(xp.uint32), xp.uint64(0x100000001), out=pair, casting="unsafe")
            block = pair.view(a.dtype).reshape(rows, 1, ow, 2)
        else:
            block = a.reshape(rows, 1, ow, 1)
        xp.copyto(out, block)  # broadcast over the block's rows
        return out

    def _offset_span(self, axis, offset):
        """Outputs along ``axis`` (0: rows, 1: columns) whose window reads the image at kernel
        ``offset``: (first, last, image index of first); padding is never read (never wins)."""
        size = self.in_hw[axis]
        stride, pad, out = self.stride[axis], self.pad[axis], self.out_hw[axis]
        first = max(0, -((offset - pad) // stride))  # ceil((pad - offset) / stride)
        last = min(out - 1, (size - 1 + pad - offset) // stride)
        return first, last, first * stride - pad + offset

    def _max_general(self, x, y):
        """Overlapping or padded windows, separably: the max over kw along each image row
        (with the first winning column), then over kh of those row maxima (the first
        winning row): Caffe's row-major first strict maximum, in kw + kh passes instead of
        kh * kw, on the unpadded image (clipped windows, as Caffe's loop). Keeps the winning
        column of each row (``rq``) and the winning row of each window (``cp``) for backward."""
        (kh, kw), (sh, sw), (oh, ow) = self.kernel, self.stride, self.out_hw
        n, c, h, w = x.shape
        index = index_dtype(max(kh, kw) - 1, smallest=xp.int8)  # offsets within a window
        rmax = self.ws.get("rmax", (n, c, h, ow), x.dtype)
        rq = self.rq = self.ws.get("rq", (n, c, h, ow), index)
        gt_r = self.ws.get("gt_r", (n, c, h, ow), bool)
        cp = self.cp = self.ws.get("cp", y.shape, index)
        gt_c = self.ws.get("gt_c", y.shape, bool)
        q_r = self.ws.get("q_r", rq.shape, index)
        q_c = self.ws.get("q_c", cp.shape, index)
        # The row-end columns the flat pass along rows overwrites and puts back.
        edge = max([ow - 1 - self._offset_span(1, q)[1] for q in range(kw)] + [0])
        keep_b = self.ws.get("keep_b", (n, c, h, edge), x.dtype)
        keep_w = self.ws.get("keep_w", (n, c, h, edge), index)

        def images(lo, hi):
            self._running_max_along(x[lo:hi], rmax[lo:hi], rq[lo:hi], 1, gt_r[lo:hi], q_r[lo:hi],
                                    (keep_b[lo:hi], keep_w[lo:hi]))
            self._running_max_along(rmax[lo:hi], y[lo:hi], cp[lo:hi], 0, gt_c[lo:hi], q_c[lo:hi])

        over_batch(images, n, x.size)

    def _running_max_along(self, src, best, which, axis, gt, qs, keep=None):
        """best = max over the kernel offsets along ``axis`` (0: rows, 1: columns; the last
        two axes of ``src``), which = offset of the first strict maximum (Caffe's ``>``);
        ``gt`` (bool) and ``qs`` (like ``which``) are scratch of ``best``'s shape; ``keep``
        (best's and which's dtypes, (..., rows, columns past a window's reach)) holds the
        row ends of the flat pass."""
        k, stride = self.kernel[axis], self.stride[axis]
        out = best.shape[-2 + axis]
        # Rows that the windows tile exactly (W == ow * stride, no pad): every offset's view
        # is one flat strided run over all rows, which numpy iterates far faster than the
        # (rows, outputs) sub-range; windows that run past a row's end are put back after.
        flat = (axis == 1 and self.pad[1] == 0 and src.shape[-1] == out * stride
                and src.flags.c_contiguous and best.flags.c_contiguous)

        def part(a, lo, hi, s=None):
            if s is None:
                return a[..., lo : hi + 1, :] if axis == 0 else a[..., lo : hi + 1]
            sl = slice(s, s + stride * (hi - lo) + 1, stride)
            return a[..., sl, :] if axis == 0 else a[..., sl]

        def step(v, b, g, w, q, t):
            xp.greater(v, b, out=g)
            xp.maximum(b, v, out=b)
            # Offsets only grow, so the latest strict winner is the largest offset.
            xp.maximum(w, xp.multiply(g, w.dtype.type(q), dtype=w.dtype, out=t), out=w)

        lo, hi, s = self._offset_span(axis, 0)
        if (lo, hi) == (0, out - 1):
            best[...] = part(src, lo, hi, s)
            start = 1
        else:
            best.fill(-xp.inf)
            start = 0
        which.fill(0)
        for q in range(start, k):
            lo, hi, s = self._offset_span(axis, q)
            if lo > hi:
                continue
            if flat and hi < out - 1:
                rows = best.size // out
                b2, w2, g2, t2 = (a.reshape(rows, out) for a in (best, which, gt, qs))
                keep_b = keep[0].reshape(rows, -1)[:, : out - 1 - hi]
                keep_w = keep[1].reshape(rows, -1)[:, : out - 1 - hi]
                xp.copyto(keep_b, b2[:, hi + 1 :])
                xp.copyto(keep_w, w2[:, hi + 1 :])
                # All rows but the last read on into the next row; the last one stops at hi.
                v = xp.lib.stride_tricks.as_strided(
                    src.reshape(-1)[s:], (rows - 1, out), (src.strides[-2], stride * src.strides[-1]),
                    writeable=False)
                step(v, b2[:-1], g2[:-1], w2[:-1], q, t2[:-1])
                last = src.reshape(rows, -1)[-1, s : s + stride * (hi - lo) + 1 : stride]
                step(last, b2[-1, : hi + 1], g2[-1, : hi + 1], w2[-1, : hi + 1], q, t2[-1, : hi + 1])
                b2[:, hi + 1 :], w2[:, hi + 1 :] = keep_b, keep_w
                continue
            step(part(src, lo, hi, s), part(best, lo, hi), part(gt, lo, hi), part(which, lo, hi), q,
                 part(qs, lo, hi))

    def _index_bases(self, n, c, h, w):
        """Per output (i, j): the index into ``rq`` of its window's first row, and the image
        index of its window's corner; per plane, its first index in the flat image."""
        (sh, sw), (ph, pw), (oh, ow) = self.stride, self.pad, self.out_hw
        index = self._index_dtype = index_dtype(n * c * h * max(w, ow))
        # Empty windows (wholly past the image) are pointed at its last row/column, so every
        # index stays inside the arrays; their results are overwritten (see _mark_empty).
        i = xp.minimum(xp.arange(oh, dtype=index) * sh - ph, h - 1)[:, None]
        j = xp.arange(ow, dtype=index)[None, :]
        col = xp.minimum(j * sw - pw, w - 1)
        planes = xp.arange(n * c, dtype=index).reshape(n, c, 1, 1)
        self._rq_base = (planes * h + i) * ow + j
        self._corner = i * w + col
        self._plane_start = planes * (h * w)

    def _argmax_in_plane(self, shape):
        """Caffe's mask: ``h * W + w`` of each output's maximum within its channel's plane,
        from the winning row (``cp``) and that row's winning column (``rq``)."""
        n, c, oh, ow = shape
        w = self.in_hw[1]
        index = self._index_dtype
        at = self.ws.get("rq_at", shape, xp.intp)  # take's own index type: not converted
        col = self.ws.get("col_at", shape, self.rq.dtype)
        local = self.ws.get("argmax", shape, index)
        rq = self.rq.reshape(-1)

        def images(lo, hi):
            xp.multiply(self.cp[lo:hi], index(ow), out=at[lo:hi], casting="unsafe")
            at[lo:hi] += self._rq_base[lo:hi]
            # mode="clip" writes straight into ``col`` ("raise" buffers it); every index is
            # in range by construction, so nothing is clipped.
            xp.take(rq, at[lo:hi], out=col[lo:hi], mode="clip")
            xp.multiply(self.cp[lo:hi], index(w), out=local[lo:hi], casting="unsafe")
            local[lo:hi] += self._corner
            local[lo:hi] += col[lo:hi]

        over_batch(images, n, local.size)
        return local

    def _separable_backward(self, dy, dx):
        """Each dy to its window's maximum, added in output order (Caffe's loop, so sums
        over overlapping windows round the same way)."""
        # intp: np.add.at would otherwise convert the indices to it on every call.
        flat = self.ws.get("flat_arg", dy.shape, xp.intp)
        local = self._argmax_in_plane(dy.shape)
        if self._empty_rows or self._empty_cols:
            dy = dy.copy()
            self._mark_empty(dy, 0)  # windows past the image pass nothing

        def images(lo, hi):
            xp.add(local[lo:hi], self._plane_start[lo:hi], out=flat[lo:hi])
            dx[lo:hi].fill(0)

        over_batch(images, len(dx), dx.size)
        xp.add.at(dx.reshape(-1), flat.reshape(-1), dy.reshape(-1))

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy, dx = top[0].diff, bottom[0].diff
        if self._fast_done:
            self.fast.backward(dy, dx)
            return
        if self.method == AVE:
            self.ave.backward(dy, dx)
            return
        if self._tiled_2x2(dx.shape):
            n, c, h, w = dx.shape
            rows, ow = n * c * self.out_hw[0], self.out_hw[1]
            hit = self.ws.get("hit4", (rows, 2, ow, 2), bool)
            pair = self.ws.get("pair", (rows, ow), xp.uint64)
            dy2, dx4 = dy.reshape(rows, ow), dx.reshape(hit.shape)

            def images(lo, hi):
                r = slice(lo * rows // n, hi * rows // n)
                # dy upsampled into dx itself, then masked: no scratch array.
                xp.multiply(self._upsample_2x2(dy2[r], pair[r], dx4[r]), hit[r], out=dx4[r])

            over_batch(images, n, dx.size)
            return
        self._separable_backward(dy, dx)
