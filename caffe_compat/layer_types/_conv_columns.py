"""Caffe's columns for a convolution: im2col and col2im on the layer's geometry.

Mixed into ConvolutionLayer (and so Deconvolution): it needs the layer's ``axis``, ``kernel``,
``stride``, ``pad``, ``dilation``, ``out_hw``, ``BATCH_INNER_BELOW_WIDTH`` and workspace
``ws``. Columns are laid out (C*kh*kw, M, P) (M = batch, P = output pixels), or (C*kh*kw, P, M)
when output rows are short (``_batch_inner``); im2col is one copy from a strided view of
every window, col2im sums each kernel offset's window back, batch slices on threads.
"""
from ..backend import xp
from ..parallel import over_batch

# Weight gradients with at least this many weights per group are computed as (O, K), not
# as (K, O) then transposed (measured on net shapes, 1 and 2 threads: (K, O) is 1.1-1.6x
# faster up to 37k weights, about even at 110k-150k, and 2-6x slower from 260k up).
DW_ROWS_MIN = 100_000


class ConvColumns:
    """im2col / col2im of ConvolutionLayer (see the module)."""

    def _dims(self, blob):
        shape = blob.shape
        m = 1
        for d in shape[: self.axis]:
            m *= d
        return m, shape[self.axis], shape[self.axis + 1], shape[self.axis + 2]

    def _batch_inner(self):
        """Column layout. Short output rows make im2col slow (one short copy per row), so
        then the batch goes innermost: columns (C*kh*kw, P, M), copied in long runs, at the
        price of transposing input and output. Otherwise columns are (C*kh*kw, M, P)."""
        return self.out_hw[1] < self.BATCH_INNER_BELOW_WIDTH

    def _windows(self, padded, batch_inner):
        """For each kernel offset (p, q): the strided view of the padded image it reads;
        ``padded`` is (C, Hp, Wp, M) when ``batch_inner``, else (C, M, Hp, Wp)."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        oh, ow = self.out_hw
        for p in range(kh):
            rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
            for q in range(kw):
                cols = slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)
                yield p, q, (padded[:, rows, cols, :] if batch_inner else padded[:, :, rows, cols])

    def _layout(self, m, c):
        kh, kw = self.kernel
        oh, ow = self.out_hw
        bi = self._batch_inner()
        col6 = (c, kh, kw, oh, ow, m) if bi else (c, kh, kw, m, oh, ow)
        return bi, col6

    def _padded_shape(self, m, c, h, w, bi):
        hp, wp = h + 2 * self.pad[0], w + 2 * self.pad[1]
        return (c, hp, wp, m) if bi else (c, m, hp, wp)

    def _interior(self, padded, h, w, bi):
        ph, pw = self.pad
        if bi:
            return padded[:, ph : ph + h, pw : pw + w, :]
        return padded[:, :, ph : ph + h, pw : pw + w]

    def _im2col(self, x, i):
        """Columns (C*kh*kw, N) of bottom ``i`` (x viewed as (M, C, H, W)); N = P*M or M*P."""
        m, c, h, w = x.shape
        bi, col6_shape = self._layout(m, c)
        xt = x.transpose(1, 2, 3, 0) if bi else x.transpose(1, 0, 2, 3)
        padded = xt
        if bi or self.pad != (0, 0):
            # The border stays zero: only the interior is ever written.
            padded, _ = self.ws.fresh(f"pad{i}", self._padded_shape(m, c, h, w, bi), x.dtype)
        kh, kw = self.kernel
        col = self.ws.get(f"col{i}", (c * kh * kw, m * self.out_hw[0] * self.out_hw[1]), x.dtype)
        col6 = col.reshape(col6_shape)
        # One copy from a strided view that holds every kernel offset's window (numpy's
        # copy loop beats kh*kw separate slice copies, most for short rows).
        windows = self._all_windows(padded, col6_shape, bi)
        if bi:
            # Batch innermost: the interior by image rows, then the columns by output rows.
            if padded is not xt:
                inner = self._interior(padded, h, w, bi)
                over_batch(lambda lo, hi: inner[:, lo:hi].__setitem__(Ellipsis, xt[:, lo:hi]), h, x.size)
            over_batch(lambda lo, hi: col6[:, :, :, lo:hi].__setitem__(Ellipsis, windows[:, :, :, lo:hi]),
                       self.out_hw[0], col.size)
            return col
        inner = self._interior(padded, h, w, bi) if padded is not xt else None

        def images(lo, hi):
            if inner is not None:
                inner[:, lo:hi] = xt[:, lo:hi]
            col6[:, :, :, lo:hi] = windows[:, :, :, lo:hi]

        over_batch(images, m, col.size)
        return col

    def _all_windows(self, padded, col6_shape, bi):
        """Read-only view of ``padded`` shaped like the columns: (C, kh, kw, oh, ow, M)
        when ``bi`` (padded (C, Hp, Wp, M)), else (C, kh, kw, M, oh, ow) (padded (C, M, Hp, Wp))."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        if bi:
            s_c, s_h, s_w, s_m = padded.strides
            strides = (s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_m)
        else:
            s_c, s_m, s_h, s_w = padded.strides
            strides = (s_c, dh * s_h, dw * s_w, s_m, sh * s_h, sw * s_w)
        return xp.lib.stride_tricks.as_strided(padded, col6_shape, strides, writeable=False)

    def _col2im(self, dcol, dx):
        """Sum the column gradient back onto the image (overwrites ``dx`` (M, C, H, W))."""
        m, c, h, w = dx.shape
        bi, col6_shape = self._layout(m, c)
        dcol6 = dcol.reshape(col6_shape)
        padded = self.ws.get("dpad", self._padded_shape(m, c, h, w, bi), dx.dtype)
        inner = self._interior(padded, h, w, bi)
        # Slices of channels (batch innermost) or of images: each sums its own part.
        if bi:
            def part(lo, hi):
                self._col2im_part(padded[lo:hi], dcol6[lo:hi], bi)
                dx[:, lo:hi] = inner[lo:hi].transpose(3, 0, 1, 2)
            over_batch(part, c, dcol.size)
        else:
            def part(lo, hi):
                self._col2im_part(padded[:, lo:hi], dcol6[:, :, :, lo:hi], bi)
                dx[lo:hi] = inner[:, lo:hi].transpose(1, 0, 2, 3)
            over_batch(part, m, dcol.size)

    def _col2im_part(self, padded, dcol6, bi):
        windows = self._windows(padded, bi)
        if self.stride == (1, 1):
            # Window (0, 0) is the block [0:oh, 0:ow]: copy it, zero the rest, add the others.
            oh, ow = self.out_hw
            rest = (padded[:, oh:], padded[:, :oh, ow:]) if bi else (padded[:, :, oh:], padded[:, :, :oh, ow:])
            for part in rest:
                part.fill(0)
            _, _, first = next(windows)
            first[...] = dcol6[:, 0, 0]
        else:
            padded.fill(0)
        for p, q, view in windows:
            view += dcol6[:, p, q]
