"""LRN: local response normalization, Caffe's two regions.

ACROSS_CHANNELS (n = local_size, window of n channels centred on c, zero padded):
    scale[c] = k + alpha / n * sum_{c' = c - (n-1)/2}^{c + (n-1)/2} x[c']^2
    y = x * scale^(-beta)
    dx = dy * scale^(-beta) - 2 * alpha * beta / n * x * sum_{window} (dy * y / scale)
  The window sums are running sums over channels (add head, subtract tail), as Caffe does.

WITHIN_CHANNEL (Caffe builds it from Split -> Power -> Pooling -> Power -> Eltwise):
    avg = AVE-pool of x^2 over n x n windows, stride 1, pad (n-1)/2 (Caffe's AVE divisor,
          which is n^2 everywhere here because every padded window fits)
    y = x * (1 + alpha * avg)^(-beta)          (k is not used in this region)
  and its backward is the chain of those layers' backward passes.

lrn_param (caffe.proto defaults): local_size 5 (must be odd); alpha 1; beta 0.75;
norm_region ACROSS_CHANNELS; k 1. Bottom must be 4-D (N, C, H, W).
"""
from ..backend import xp
from ..parallel import over_batch
from ._workspace import Workspace
from .base import Layer, register
from ._pooling_ave import AvePool

ACROSS_CHANNELS, WITHIN_CHANNEL = 0, 1


@register("LRN")
class LRNLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.lrn_param
        self.size = int(p.local_size)
        if self.size % 2 != 1:
            raise self.error(f"LRN only supports odd values for local_size, got {self.size}")
        self.pre_pad = (self.size - 1) // 2
        self.alpha, self.beta, self.k = float(p.alpha), float(p.beta), float(p.k)
        self.region = p.norm_region
        if self.region not in (ACROSS_CHANNELS, WITHIN_CHANNEL):
            raise self.error(f"unknown norm_region {self.region}")
        self.ws = Workspace()
        if self.region == WITHIN_CHANNEL:
            self.pool = AvePool((self.size, self.size), (1, 1), (self.pre_pad, self.pre_pad))

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != 4:
            raise self.error("input must have 4 axes, corresponding to (num, channels, height, width)",
                             bottom0=shape)
        top[0].reshape(shape)

    def forward(self, bottom, top):
        if self.region == ACROSS_CHANNELS:
            self._across_forward(bottom[0].data, top[0].data)
        else:
            self._within_forward(bottom[0].data, top[0].data)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        if self.region == ACROSS_CHANNELS:
            self._across_backward(bottom[0].data, top[0].data, top[0].diff, bottom[0].diff)
        else:
            self._within_backward(bottom[0].data, top[0].diff, bottom[0].diff)

    # -- ACROSS_CHANNELS -----------------------------------------------------------------
    def _across_forward(self, x, y):
        n, c, h, w = x.shape
        dt = x.dtype
        sq = self.ws.get("padded_sq", (n, c + self.size - 1, h, w), dt)
        scale = self.ws.get("scale", x.shape, dt)
        # Images are independent: slices of the batch run on separate threads.
        over_batch(lambda lo, hi: self._across_forward_images(x[lo:hi], y[lo:hi], sq[lo:hi], scale[lo:hi]),
                   n, x.size)

    def _across_forward_images(self, x, y, sq, scale):
        c = x.shape[1]
        dt = x.dtype
        a = dt.type(self.alpha) / dt.type(self.size)  # alpha_over_size in the blob's precision
        xp.multiply(x, x, out=sq[:, self.pre_pad : self.pre_pad + c])
        sq *= a
        scale[:, 0] = self.k
        for i in range(self.size):
            scale[:, 0] += sq[:, i]
        for i in range(1, c):
            xp.add(scale[:, i - 1], sq[:, i + self.size - 1], out=scale[:, i])
            scale[:, i] -= sq[:, i - 1]
        xp.power(scale, dt.type(-self.beta), out=y)
        y *= x

    def _across_backward(self, x, y, dy, dx):
        n, c, h, w = x.shape
        dt = x.dtype
        scale = self.ws.get("scale", x.shape, dt)
        ratio = self.ws.get("padded_ratio", (n, c + self.size - 1, h, w), dt, zero=True)
        accum = self.ws.get("accum", (n, h, w), dt)
        term = self.ws.get("term", (n, h, w), dt)
        over_batch(lambda lo, hi: self._across_backward_images(
            x[lo:hi], y[lo:hi], dy[lo:hi], dx[lo:hi], scale[lo:hi], ratio[lo:hi], accum[lo:hi], term[lo:hi]),
            n, x.size)

    def _across_backward_images(self, x, y, dy, dx, scale, ratio, accum, term):
        c = x.shape[1]
        dt = x.dtype
        inverse_pre_pad = self.size - (self.size + 1) // 2
        inner = ratio[:, inverse_pre_pad : inverse_pre_pad + c]
        xp.multiply(dy, y, out=inner)
        inner /= scale
        xp.power(scale, dt.type(-self.beta), out=dx)
        dx *= dy
        cache_ratio = dt.type(2.0 * self.alpha * self.beta / self.size)
        accum.fill(0)
        for i in range(self.size - 1):
            accum += ratio[:, i]
        for i in range(c):
            accum += ratio[:, i + self.size - 1]
            xp.multiply(x[:, i], accum, out=term)
            term *= cache_ratio
            dx[:, i] -= term
            accum -= ratio[:, i]

    # -- WITHIN_CHANNEL ------------------------------------------------------------------
    def _within_forward(self, x, y):
        dt = x.dtype
        sq = self.ws.get("sq", x.shape, dt)
        xp.multiply(x, x, out=sq)
        avg = self.ws.get("avg", x.shape, dt)
        self.pool.forward(sq, avg)
        base = self.ws.get("base", x.shape, dt)  # 1 + alpha * avg (Power: scale, then shift)
        xp.multiply(avg, dt.type(self.alpha), out=base)
        base += 1
        powered = self.ws.get("powered", x.shape, dt)
        xp.power(base, dt.type(-self.beta), out=powered)
        xp.multiply(x, powered, out=y)

    def _within_backward(self, x, dy, dx):
        dt = x.dtype
        base = self.ws.get("base", x.shape, dt)
        powered = self.ws.get("powered", x.shape, dt)
        # Eltwise PROD: d(powered) = x * dy.
        d_avg = self.ws.get("d_avg", x.shape, dt)
        xp.multiply(x, dy, out=d_avg)
        # Power backward: d(avg) = d(powered) * (-beta * alpha) * powered / base.
        factor = self.ws.get("factor", x.shape, dt)
        xp.divide(powered, base, out=factor)
        factor *= dt.type(-self.beta) * dt.type(self.alpha)
        d_avg *= factor
        # AVE pooling backward, then Power(2) backward: d(x) from the square branch = 2x * d(sq).
        d_sq = self.ws.get("d_sq", x.shape, dt)
        self.pool.backward(d_avg, d_sq)
        xp.multiply(x, dt.type(2), out=factor)
        factor *= d_sq
        # Split: the product branch's gradient (powered * dy) plus the square branch's.
        xp.multiply(powered, dy, out=dx)
        dx += factor
