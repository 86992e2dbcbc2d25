"""Pooling's fast engine (``engine: DEFAULT`` or ``CUDNN``; see caffe_compat.engines).

Same windows, output size and rules as Caffe's path in pooling.py (ceil mode and its
clipping rule, AVE's divisor counting the padding inside ``H + pad``, MAX's first maximum
in row-major window order); only the way numpy walks the data changes:

**Phase layout.** For stride ``(sh, sw)`` the padded image is cut into ``sh x sw`` phases,
``P[a, b][u, v] = padded[u*sh + a, v*sw + b]``, each stored for all N*C planes as one
contiguous array of ``Qh x Qw`` planes (``Q = ceil(padded extent / stride)``; the padding
and the margin past the image hold -inf for MAX, 0 for AVE, written once). Kernel offset
``o`` along an axis reads phase ``o % s`` shifted by ``o // s`` rows (or columns), so every
pass is one flat, contiguous, SIMD ufunc call over all planes: a shift of ``d`` is the same
array read ``d`` elements (or ``d * Qw``) further on. Rows past ``OH`` and columns past
``OW`` (the margin) compute garbage that is never read back: valid outputs only ever read
their own plane.

- MAX forward: the max over ``kw`` column offsets of each row (``R``, per row phase), then
  over ``kh`` rows: ``kw + kh - 2`` flat passes instead of Caffe's ``kh * kw`` compares with
  index bookkeeping. Max is exact, so ``y`` equals Caffe's bit for bit (a signed zero aside:
  -0 and +0 compare equal).
- MAX backward: each window's maximum is found lazily from the kept copies (phases, row
  maxima, output; the blobs may be changed in place meanwhile): the first row offset whose
  row maximum equals ``y``, then the first column offset in that row equal to it, which is
  Caffe's first maximum in row-major order, ties included. The gradients are then added
  with ``np.add.at`` in output order, the order of Caffe's loop, so ``dx`` is bit-identical
  too. A window holding NaN or an infinity makes that forward/backward take Caffe's path.
- AVE: the same passes with sums, then ``/ pool_size`` (Caffe's divisor); backward spreads
  ``dy / pool_size`` back through the transposed passes. Results equal Caffe's up to float32
  rounding (other summation order).
- A kernel covering the whole image (global pooling, NIN's and ResNet's last pools), AVE:
  one row sum per plane; backward one broadcast write.

float32 only (float64 keeps Caffe's path); windows wholly outside the image (ceil mode with
kernel < stride) keep Caffe's path too. For MAX 2x2/2 tiling, where Caffe's path is as
fast, the layer times both at each shape's first forward and keeps the faster
(PoolingLayer._prefers_fast). Work is split over the N*C planes on
caffe_compat.parallel's threads, so batch-1 nets use them as well. Scratch arrays live in a
Workspace: nothing is allocated per iteration.
"""
from ..backend import xp
from ..parallel import over_batch
from ._index import index_dtype
from ._workspace import Workspace


class _Axis:
    """One spatial axis of the phase layout."""

    def __init__(self, size, kernel, stride, pad, out):
        extent = max(size + 2 * pad, (out - 1) * stride + kernel)
        self.size, self.stride, self.pad, self.out = size, stride, pad, out
        self.q = -(-extent // stride)  # rows (columns) per phase, margin included
        # Kernel offset o reads phase o % stride, shifted by o // stride.
        self.offsets = [(o % stride, o // stride) for o in range(kernel)]
        self.phases = sorted({a for a, _ in self.offsets})
        # Where the image lies in phase a: first image index, its phase index, count.
        self.places = {}
        for a in self.phases:
            first = (a - pad) % stride
            self.places[a] = (first, (first + pad) // stride, len(range(first, size, stride)))


def _reduce_shifted(op, out, sources, lo, hi, length):
    """``out[t] = op(src[t + d] for src, d in sources)`` for t in [lo, hi) (reads stop at
    ``length``; positions past it are margin)."""
    (s0, d0), rest = sources[0], sources[1:]
    if rest:
        (s1, d1), rest = rest[0], rest[1:]
        e = min(hi, length - max(d0, d1))
        op(s0[lo + d0 : e + d0], s1[lo + d1 : e + d1], out=out[lo:e])
    else:
        e = min(hi, length - d0)
        xp.copyto(out[lo:e], s0[lo + d0 : e + d0])
    for src, d in rest:
        e = min(hi, length - d)
        op(out[lo:e], src[lo + d : e + d], out=out[lo:e])


def _spread_shifted(out, sources, lo, hi):
    """The transpose of _reduce_shifted with sums: ``out[t] = sum(src[t - d])`` (t - d >= 0)."""
    (s0, d0), rest = sources[0], sources[1:]
    b = min(max(lo, d0), hi)
    if b > lo:
        out[lo:b] = 0
    xp.copyto(out[b:hi], s0[b - d0 : hi - d0])
    for src, d in rest:
        b = min(max(lo, d), hi)
        xp.add(out[b:hi], src[b - d : hi - d], out=out[b:hi])


class FastPool:
    """MAX or AVE pooling of (N, C, H, W) float32 arrays in the phase layout."""

    def __init__(self, method_max, shape, kernel, stride, pad, out_hw):
        n, c, h, w = shape
        self.is_max, self.shape, self.out_hw = method_max, tuple(shape), tuple(out_hw)
        self.planes = n * c
        self.rows = _Axis(h, kernel[0], stride[0], pad[0], out_hw[0])
        self.cols = _Axis(w, kernel[1], stride[1], pad[1], out_hw[1])
        self.plane = self.rows.q * self.cols.q
        self.length = self.planes * self.plane
        self.ws = Workspace()
        sh, sw = stride
        fill = -xp.inf if method_max else 0.0
        self.xp_ = self.ws.get("phases", (sh, sw, self.length), xp.float32)
        self.xp_.fill(fill)
        self.r = self.ws.get("rowpass", (sh, self.length), xp.float32)
        self.y = self.ws.get("out", (self.length,), xp.float32)
        self.fallback = False
        self.winners_ready = False
        if not method_max:
            (ph, pw), (kh, kw) = pad, kernel
            rows = xp.arange(out_hw[0]) * sh - ph
            cols = xp.arange(out_hw[1]) * sw - pw
            div_r = xp.minimum(rows + kh, h + ph) - rows
            div_c = xp.minimum(cols + kw, w + pw) - cols
            self.div = (div_r[:, None] * div_c[None, :]).astype(xp.float32)

    def _plane_view(self, flat):
        """(planes, OH, OW) view of a phase-layout array's valid outputs."""
        return flat.reshape(self.planes, self.rows.q, self.cols.q)[:, : self.out_hw[0], : self.out_hw[1]]

    def _phase_block(self, a, b):
        """(planes, rows, cols) view of the image's place in phase (a, b), and the image's
        strided view that goes there."""
        (h0, u0, nh), (w0, v0, nw) = self.rows.places[a], self.cols.places[b]
        block = self.xp_[a, b].reshape(self.planes, self.rows.q, self.cols.q)[:, u0 : u0 + nh, v0 : v0 + nw]
        return block, (slice(h0, None, self.rows.stride), slice(w0, None, self.cols.stride))

    def _passes(self, x3, lo, hi):
        """Scatter planes [lo, hi) into the phases, then the row and column passes."""
        op = xp.maximum if self.is_max else xp.add
        for a in self.rows.phases:
            for b in self.cols.phases:
                block, (rs, cs) = self._phase_block(a, b)
                xp.copyto(block[lo:hi], x3[lo:hi, rs, cs])
        t0, t1, qw = lo * self.plane, hi * self.plane, self.cols.q
        for a in self.rows.phases:
            _reduce_shifted(op, self.r[a], [(self.xp_[a, b], dv) for b, dv in self.cols.offsets],
                            t0, t1, self.length)
        _reduce_shifted(op, self.y, [(self.r[a], du * qw) for a, du in self.rows.offsets],
                        t0, t1, self.length)

    def forward(self, x, y):
        """y = pooled x. Returns False when Caffe's path must run instead (MAX windows with
        NaN or infinities: their maximum's position is Caffe's rule, not a value match)."""
        x3 = x.reshape(self.planes, *x.shape[2:])
        y3 = y.reshape(self.planes, *self.out_hw)
        self.winners_ready = False

        def planes(lo, hi):
            self._passes(x3, lo, hi)
            if self.is_max:
                xp.copyto(y3[lo:hi], self._plane_view(self.y)[lo:hi])
            else:
                xp.divide(self._plane_view(self.y)[lo:hi], self.div, out=y3[lo:hi])

        over_batch(planes, self.planes, x.size)
        if self.is_max:
            self.fallback = not xp.isfinite(xp.sum(y))
        return not self.fallback

    # --- MAX backward ---------------------------------------------------------------

    def _first_match(self, code, scratch, sources, ref, lo, hi):
        """code[t] = the first i with sources[i][0][t + sources[i][1]] == ref[t], t in [lo, hi)
        (the last one when none matches: only possible with NaN, which takes Caffe's path).
        Counted, not selected: code = sum over i < last of [no match in 0..i]."""
        ne, missed = scratch
        code[lo:hi] = 0
        for i in range(len(sources) - 1):
            src, d = sources[i]
            e = min(hi, self.length - d)
            if i == 0:
                xp.not_equal(src[lo + d : e + d], ref[lo:e], out=missed[lo:e])
            else:
                xp.not_equal(src[lo + d : e + d], ref[lo:e], out=ne[lo:e])
                xp.logical_and(missed[lo:e], ne[lo:e], out=missed[lo:e])
            xp.add(code[lo:e], missed[lo:e], out=code[lo:e])

    def _winners(self):
        """Flat index into dx of each output's maximum (Caffe's mask plus the plane's start)."""
        n, c, h, w = self.shape
        sh, qw = self.rows.stride, self.cols.q
        ws = self.ws
        code = index_dtype(max(len(self.rows.offsets), len(self.cols.offsets)) - 1, smallest=xp.int8)
        qc = ws.get("colcode", (sh, self.length), code)
        pc = ws.get("rowcode", (self.length,), code)
        qsel = ws.get("wincol", (self.length,), code)
        scratch = ws.get("ne", (self.length,), bool), ws.get("missed", (self.length,), bool)
        pick = ws.get("pick", (self.length,), code)
        idx = self.idx = ws.get("index", (self.planes,) + self.out_hw, xp.intp)
        base = self._base()

        def planes(lo, hi):
            t0, t1 = lo * self.plane, hi * self.plane
            for a in self.rows.phases:
                self._first_match(qc[a], scratch, [(self.xp_[a, b], dv) for b, dv in self.cols.offsets],
                                  self.r[a], t0, t1)
            rows = self.rows.offsets
            self._first_match(pc, scratch, [(self.r[a], du * qw) for a, du in rows], self.y, t0, t1)
            # The column of the winning row: qc of that row, read at the row's shift
            # (sum over p of [pc == p] * qc_p: selection by arithmetic, far faster than where=).
            at = scratch[0]
            for p, (a, du) in enumerate(rows):
                d = du * qw
                e = min(t1, self.length - d)
                xp.equal(pc[t0:e], p, out=at[t0:e])
                if p == 0:
                    xp.multiply(at[t0:e], qc[a][t0 + d : e + d], out=qsel[t0:e])
                else:
                    xp.multiply(at[t0:e], qc[a][t0 + d : e + d], out=pick[t0:e])
                    xp.add(qsel[t0:e], pick[t0:e], out=qsel[t0:e])
            part = idx[lo:hi]
            xp.multiply(self._plane_view(pc)[lo:hi], w, out=part, dtype=xp.intp)
            xp.add(part, self._plane_view(qsel)[lo:hi], out=part, dtype=xp.intp)
            part += base[lo:hi]

        over_batch(planes, self.planes, self.length)
        self.winners_ready = True
        return idx

    def _base(self):
        """Flat index into dx of each window's top-left corner (padding included)."""
        base, fresh = self.ws.fresh("base", (self.planes,) + self.out_hw, xp.intp)
        if fresh:  # made once (again after a deepcopy: Workspaces copy empty)
            n, c, h, w = self.shape
            i = xp.arange(self.out_hw[0]) * self.rows.stride - self.rows.pad
            j = xp.arange(self.out_hw[1]) * self.cols.stride - self.cols.pad
            base[...] = (xp.arange(self.planes)[:, None, None] * (h * w) + i[None, :, None] * w
                         + j[None, None, :])
        return base

    def mask(self, out):
        """Caffe's second top: ``h * W + w`` of each window's maximum in its plane."""
        h, w = self.shape[2:]
        idx = self._winners()
        planes = xp.arange(self.planes).reshape(-1, 1, 1) * (h * w)
        xp.subtract(idx, planes, out=out.reshape(idx.shape), casting="unsafe")

    def backward(self, dy, dx):
        if not self.is_max:
            self._ave_backward(dy, dx)
            return
        idx = self.idx if self.winners_ready else self._winners()
        flat = dx.reshape(-1)

        def planes(lo, hi):
            # Each plane's outputs only reach their own plane: slices never overlap.
            flat[lo * dx[0, 0].size : hi * dx[0, 0].size] = 0

        over_batch(planes, self.planes, dx.size)
        # In output order, as Caffe's loop adds them (0 + first is exact; then the same sums).
        xp.add.at(flat, idx.reshape(-1), dy.reshape(-1))

    # --- AVE backward ---------------------------------------------------------------

    def _ave_backward(self, dy, dx):
        ws = self.ws
        share = ws.get("share", (self.length,), xp.float32)  # margins stay 0
        gr = ws.get("rowgrad", (self.rows.stride, self.length), xp.float32)
        dp = ws.get("dphases", (self.rows.stride, self.cols.stride, self.length), xp.float32)
        dy3 = dy.reshape(self.planes, *self.out_hw)
        dx3 = dx.reshape(self.planes, *dx.shape[2:])
        qw = self.cols.q

        def planes(lo, hi):
            t0, t1 = lo * self.plane, hi * self.plane
            xp.divide(dy3[lo:hi], self.div, out=self._plane_view(share)[lo:hi])
            for a in self.rows.phases:
                _spread_shifted(gr[a], [(share, du * qw) for a2, du in self.rows.offsets if a2 == a], t0, t1)
                for b in self.cols.phases:
                    _spread_shifted(dp[a, b], [(gr[a], dv) for b2, dv in self.cols.offsets if b2 == b],
                                    t0, t1)
            for a in self.rows.phases:
                for b in self.cols.phases:
                    (h0, u0, nh), (w0, v0, nw) = self.rows.places[a], self.cols.places[b]
                    block = dp[a, b].reshape(self.planes, self.rows.q, qw)[lo:hi, u0 : u0 + nh, v0 : v0 + nw]
                    xp.copyto(dx3[lo:hi, h0 :: self.rows.stride, w0 :: self.cols.stride], block)
            self._zero_uncovered(dx3, lo, hi)

        over_batch(planes, self.planes, dx.size)

    def _zero_uncovered(self, dx3, lo, hi):
        """Image rows/columns in no phase (kernel < stride) get no gradient."""
        for axis in (self.rows, self.cols):
            if len(axis.phases) == axis.stride:
                continue
            for a in range(axis.stride):
                if a in axis.phases:
                    continue
                first = (a - axis.pad) % axis.stride
                if axis is self.rows:
                    dx3[lo:hi, first :: axis.stride, :] = 0
                else:
                    dx3[lo:hi, :, first :: axis.stride] = 0


class WholeImageAve:
    """AVE with one window covering the whole image (global pooling): a sum per plane."""

    def __init__(self, shape):
        n, c, h, w = shape
        self.planes, self.area = n * c, h * w

    def forward(self, x, y):
        x2, y1 = x.reshape(self.planes, self.area), y.reshape(self.planes)

        def planes(lo, hi):
            xp.sum(x2[lo:hi], axis=1, out=y1[lo:hi])
            y1[lo:hi] /= xp.float32(self.area)

        over_batch(planes, self.planes, x.size)
        return True

    def backward(self, dy, dx):
        dy2, dx2 = dy.reshape(self.planes, 1), dx.reshape(self.planes, self.area)

        def planes(lo, hi):
            xp.divide(dy2[lo:hi], xp.float32(self.area), out=dx2[lo:hi])

        over_batch(planes, self.planes, dx.size)
