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

pooling_param.engine (caffe_compat.engines): ``CAFFE`` runs Caffe's own order of operations
(_pooling_max.py, _pooling_ave.py); ``DEFAULT``/``CUDNN`` (and no field) run the fast engine
of _pooling_fast.py on float32 blobs (for MAX 2x2/2 tiling, where Caffe's path is as fast,
the first iterations of each shape, at each thread count, alternate the two, timing forward
+ backward, and keep the faster: engines.Pick). Same results: MAX bit for bit (values, mask,
summed gradients, ties included), AVE to float32 rounding. ``TSCAFFE_ENGINE=CAFFE`` forces Caffe's path everywhere.
"""
import time

from .. import engines, parallel
from ..backend import xp
from ._pooling_ave import AvePool, pooled_size
from ._pooling_fast import FastPool, WholeImageAve
from ._pooling_max import CaffeMaxPool
from .base import Layer, register

MAX, AVE, STOCHASTIC = 0, 1, 2


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
    # DEFAULT/CUDNN engine: where Caffe's path can win, time it against the fast kernel per
    # shape (False: the fast kernel wherever it applies; the tests use that to check it).
    choose_by_timing = True
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
        self.kernel_fast = self.ave = None
        self._last_choice = self._current_pick = self._pending = None
        self.max = CaffeMaxPool(self.stride, self.pad) if self.method == MAX else None
        self._fast_key = None
        self._fast_done = False
        self._choice = {}

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
        if self.method == MAX:
            self.max.reshape(shape, self.kernel, self.out_hw)
        self.kernel_fast = self._fast_engine(bottom[0].data.dtype, shape)

    @property
    def fast(self):
        """The fast kernel computing this layer (engines.describe reads it), or None: Caffe's
        path (engine CAFFE, float64, a shape it does not take, or timed slower here)."""
        return None if self._last_choice == "caffe" else self.kernel_fast

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
        if self.kernel_fast is not None and self._fast_key == key:
            return self.kernel_fast
        self._fast_key = key
        if self.method == AVE and self.kernel == (h, w) and self.pad == (0, 0) and (oh, ow) == (1, 1):
            return WholeImageAve(shape)
        return FastPool(self.method == MAX, shape, self.kernel, self.stride, self.pad, self.out_hw)

    def _pick(self, x):
        """The kernel to run now: "fast" or "caffe". cuDNN's ``find``, on the real calls: for
        MAX 2x2/2 tiling (LeNet's, VGG's pools), where Caffe's path is about as fast as the
        phase layout (measured within a few percent either way; the fast kernel wins on the
        smallest maps), an engines.Pick per shape and thread count alternates the two over
        the first iterations, timing forward + backward, and keeps the faster. Everywhere
        else the fast kernel does a fraction of Caffe's passes (measured 1.5-10x faster) and
        runs without a timing, which on a busy machine could only pick wrong."""
        if not self.choose_by_timing or not (self.method == MAX and self.max._tiled_2x2(x.shape)):
            return "fast"
        key = (x.shape, parallel.num_threads())
        pick = self._choice.get(key)
        if pick is None:
            pick = self._choice[key] = engines.Pick(["fast", "caffe"])
        pick.inform(p for (shape, _), p in self._choice.items() if shape == x.shape)
        self._current_pick = pick
        return pick.next()

    def _record(self, seconds):
        """The time of the pass pair just run, for the Pick that chose it."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pick, name, t = pending
            pick.record(name, t + seconds)

    def _caffe_forward(self, x, y, mask):
        if self.method == AVE:
            self.ave.forward(x, y)
        else:
            self.max.forward(x, y, mask)

    def _caffe_backward(self, dy, dx):
        (self.ave if self.method == AVE else self.max).backward(dy, dx)

    def forward(self, bottom, top):
        x, y = bottom[0].data, top[0].data
        mask = top[1].data if len(top) > 1 else None
        self._record(0.0)  # a forward without backward: its time alone
        name = "caffe" if self.kernel_fast is None else self._pick(x)
        t0 = time.perf_counter()
        self._fast_done = name == "fast" and self.kernel_fast.forward(x, y)
        if not self._fast_done:
            self._caffe_forward(x, y, mask)
        elif mask is not None:
            self.kernel_fast.mask(mask)
        self._last_choice = name
        if self._current_pick is not None and self._current_pick.chosen is None:
            self._pending = (self._current_pick, name, time.perf_counter() - t0)
        self._current_pick = None

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy, dx = top[0].diff, bottom[0].diff
        t0 = time.perf_counter()
        if self._fast_done:
            self.kernel_fast.backward(dy, dx)
        else:
            self._caffe_backward(dy, dx)
        self._record(time.perf_counter() - t0)
