"""Dropout: TRAIN: y = x * mask * scale, mask ~ Bernoulli(1 - dropout_ratio); TEST: y = x.

Defaults (caffe.proto DropoutParameter): dropout_ratio = 0.5.
scale = 1 / (1 - dropout_ratio), computed as Caffe does: the ratio is a float, the division
is in double, the result is stored in the blob's precision (float32: 2.0 for 0.5).
The mask comes from the process RNG (caffe_compat.rng), so seeded runs repeat.
Backward: TRAIN dx = dy * mask * scale; TEST dx = dy. Works in place (top is bottom).
"""
from ..backend import xp
from ..proto import caffe_pb2
from ..rng import get_rng
from .base import NeuronLayer, register


@register("Dropout")
class DropoutLayer(NeuronLayer):
    def setup(self, bottom, top):
        ratio = float(xp.float32(self.layer_param.dropout_param.dropout_ratio))
        if not 0 <= ratio < 1:
            raise self.error(f"dropout_param.dropout_ratio must be in [0, 1), got {ratio}")
        self.ratio = ratio
        self.scale = 1.0 / (1.0 - ratio)
        self.mask = None

    def _training(self):
        return self.phase == caffe_pb2.TRAIN

    def forward(self, bottom, top):
        x = bottom[0].data
        if not self._training():
            if top[0] is not bottom[0]:
                top[0].data[...] = x
            return
        # Uniforms in the blob's precision (float32 draws are twice as fast), kept when
        # below 1 - ratio; the mask is 0/1 in the blob's dtype, applied in Caffe's order:
        # (x * mask) * scale.
        dtype = x.dtype if x.dtype in (xp.float32, xp.float64) else xp.dtype(xp.float64)
        uniform = get_rng().random(x.shape, dtype=dtype)
        self.mask = xp.less(uniform, dtype.type(1.0 - self.ratio)).astype(x.dtype)
        y = top[0].data
        xp.multiply(x, self.mask, out=y)
        y *= x.dtype.type(self.scale)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = top[0].diff
        if not self._training():
            if top[0] is not bottom[0]:
                bottom[0].diff[...] = dy
            return
        dx = bottom[0].diff
        xp.multiply(dy, self.mask, out=dx)
        dx *= dy.dtype.type(self.scale)
