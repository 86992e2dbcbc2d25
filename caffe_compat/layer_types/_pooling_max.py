"""Pooling's MAX in Caffe's own way (the CAFFE engine): first strict maximum in row-major
window order, with Caffe's mask and gradient routing; see pooling.py for the rules."""
from ..backend import xp
from ..parallel import over_batch
from ._index import index_dtype
from ._pooling_ave import windows
from ._workspace import Workspace


class CaffeMaxPool:
    """MAX pooling of (N, C, H, W) arrays; keeps what backward needs between the calls."""

    def __init__(self, stride, pad):
        self.stride, self.pad = stride, pad
        self.ws = Workspace()
        self._index_shape = None
        self._empty_rows = self._empty_cols = []

    def reshape(self, shape, kernel, out_hw):
        n, c, h, w = shape
        self.kernel, self.out_hw, self.in_hw = kernel, out_hw, (h, w)
        if not self._tiled_2x2(shape) and self._index_shape != (shape, kernel):
            self._index_bases(n, c, h, w)
            self._index_shape = (shape, kernel)
            (sh, sw), (ph, pw), (oh, ow) = self.stride, self.pad, self.out_hw
            self._empty_rows = [i for i in range(oh) if i * sh - ph >= h]
            self._empty_cols = [j for j in range(ow) if j * sw - pw >= w]

    def forward(self, x, y, mask=None):
        """y = max of each window; ``mask`` (or None): Caffe's second top."""
        if not self._tiled_2x2(x.shape):
            self._max_general(x, y)
            self._mark_empty(y, -xp.finfo(xp.float32).max)
            if mask is not None:
                mask[...] = self._argmax_in_plane(y.shape)
                self._mark_empty(mask, -1)
            return
        arg = self._max_2x2(x, y, want_arg=mask is not None)
        if mask is not None:
            rows = (xp.arange(self.out_hw[0]) * 2)[:, None] + arg // 2
            cols = (xp.arange(self.out_hw[1]) * 2)[None, :] + arg % 2
            mask[...] = rows * x.shape[3] + cols

    def backward(self, dy, dx):
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

    def _tiled(self, shape):
        """Windows tile the image exactly (stride == kernel, no pad)."""
        h, w = shape[2:]
        (kh, kw), (oh, ow) = self.kernel, self.out_hw
        return self.pad == (0, 0) and self.stride == self.kernel and (h, w) == (oh * kh, ow * kw)

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
        (kh, kw), ow = self.kernel, self.out_hw[1]
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
