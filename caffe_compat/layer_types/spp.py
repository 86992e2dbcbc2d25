"""SPP: spatial pyramid pooling, built from Pooling, Flatten and Concat as Caffe builds it.

For level l = 0 .. pyramid_height - 1 with bins = 2^l, over an H x W bottom (N, C, H, W):

    kernel_h = ceil(H / bins), pad_h = (kernel_h * bins - H + 1) / 2, stride_h = kernel_h

(likewise for w), pooled with spp_param.pool (MAX, the default, or AVE; Caffe's Pooling
rules: ceil rounding, padding never wins a MAX, AVE divides by the window clipped to the
padded image). Each level is flattened to (N, C * bins_h * bins_w) and the levels are
concatenated along axis 1, level 0 first. With pyramid_height 1 the single pooling's
(N, C, 1, 1) output is the top itself (Caffe does not flatten it).

Backward: each level's part of the top diff goes back through its pooling; the bottom diff
is their sum (Caffe's internal Split). STOCHASTIC pooling is not supported (as Pooling).
"""
import math

from ..backend import xp
from ..blob import Blob
from ..errors import LayerSetupError
from ..proto import caffe_pb2
from .base import Layer, register
from .pooling import PoolingLayer


def level_geometry(level, height, width):
    """(kernel, pad) per spatial axis of pyramid level ``level``, Caffe's GetPoolingParam."""
    bins = 2 ** level
    out = []
    for size in (height, width):
        kernel = int(math.ceil(size / float(bins)))
        out.append((kernel, (kernel * bins - size + 1) // 2))
    return out


@register("SPP")
class SPPLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.spp_param
        if not p.HasField("pyramid_height") or p.pyramid_height < 1:
            raise self.error("spp_param.pyramid_height must be given and >= 1")
        self.height = int(p.pyramid_height)
        self.pool = int(p.pool)
        self.shape = None

    def _poolings(self, shape, dtype):
        n, c, h, w = shape
        if h <= 0 or w <= 0:
            raise self.error("Input dimensions cannot be zero.", bottom0=shape)
        self.levels = []
        for level in range(self.height):
            (kh, ph), (kw, pw) = level_geometry(level, h, w)
            lp = caffe_pb2.LayerParameter(name=f"{self.name}", type="Pooling")
            pp = lp.pooling_param
            pp.pool = self.pool
            pp.kernel_h, pp.kernel_w, pp.stride_h, pp.stride_w, pp.pad_h, pp.pad_w = kh, kw, kh, kw, ph, pw
            layer = PoolingLayer(lp, self.phase)
            inner_bottom, inner_top = Blob(shape, dtype), Blob((), dtype)
            try:
                layer.setup([inner_bottom], [inner_top])
                layer.reshape([inner_bottom], [inner_top])
            except LayerSetupError as e:
                raise self.error(f"pyramid level {level} (kernel {kh} x {kw}, pad {ph} x {pw}): {e}",
                                 bottom0=shape) from None
            self.levels.append((layer, inner_bottom, inner_top))

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != 4:
            raise self.error("Input must have 4 axes, corresponding to (num, channels, height, width)",
                             bottom0=shape)
        key = (shape, bottom[0].data.dtype)
        if key != self.shape:
            self._poolings(*key)
            self.shape = key
        if self.height == 1:
            top[0].reshape(self.levels[0][2].shape)
            return
        top[0].reshape((shape[0], sum(t.count // shape[0] for _, _, t in self.levels)))

    def forward(self, bottom, top):
        n = bottom[0].shape[0]
        y = top[0].data.reshape(n, -1)
        start = 0
        for layer, inner_bottom, inner_top in self.levels:
            inner_bottom.data = bottom[0].data
            layer.forward([inner_bottom], [inner_top])
            size = inner_top.count // n
            y[:, start:start + size] = inner_top.data.reshape(n, size)
            start += size

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        n = bottom[0].shape[0]
        dy = top[0].diff.reshape(n, -1)
        dx = bottom[0].diff
        start = 0
        for k, (layer, inner_bottom, inner_top) in enumerate(self.levels):
            size = inner_top.count // n
            inner_top.diff[...] = dy[:, start:start + size].reshape(inner_top.shape)
            start += size
            inner_bottom.data = bottom[0].data
            layer.backward([inner_top], [True], [inner_bottom])
            if k == 0:
                dx[...] = inner_bottom.diff
            else:
                xp.add(dx, inner_bottom.diff, out=dx)
