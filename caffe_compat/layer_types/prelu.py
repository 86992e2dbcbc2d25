"""PReLU: y = max(x, 0) + a_c * min(x, 0), a learned slope per channel (axis 1).

prelu_param (caffe.proto): ``channel_shared`` false (true: one slope for every channel,
a 0-axis parameter blob); ``filler`` absent = constant 0.25. The bottom needs at least 2
axes. Parameter blob 0: the slopes, shape (channels,) or ().
Backward (Caffe's): d a_c += sum over n and the inner axes of dy * x * (x <= 0);
dx = dy * ((x > 0) + a_c * (x <= 0)). In place, the input is kept before forward
overwrites it, so both gradients use the input, as Caffe's ``bottom_memory_`` does.
"""
from ..backend import get_array_module
from ..proto import caffe_pb2
from .base import Layer, register


@register("PReLU")
class PReLULayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def _check_axes(self, bottom):
        if bottom[0].num_axes < 2:
            raise self.error("number of axes of bottom blob must be >= 2", bottom0=bottom[0].shape)

    def setup(self, bottom, top):
        self._check_axes(bottom)
        p = self.layer_param.prelu_param
        self.channel_shared = bool(p.channel_shared)
        channels = bottom[0].shape[1]
        if not self.blobs:
            filler = p.filler if p.HasField("filler") else caffe_pb2.FillerParameter(
                type="constant", value=0.25)
            self.blobs.append(self.new_param(() if self.channel_shared else (channels,), filler))
        want = 1 if self.channel_shared else channels
        if self.blobs[0].count != want:
            raise self.error(f"negative slope size {self.blobs[0].count} is inconsistent with "
                             f"prototxt config (want {want})", bottom0=bottom[0].shape)
        self.saved_input = None

    def reshape(self, bottom, top):
        self._check_axes(bottom)
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def _slope(self, x):
        a = self.blobs[0].data.astype(x.dtype, copy=False)
        if self.channel_shared:
            return a.reshape(())
        return a.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data
        if top[0] is bottom[0]:
            self.saved_input = x.copy()
        top[0].data[...] = xp.maximum(x, 0) + self._slope(x) * xp.minimum(x, 0)

    def backward(self, top, propagate_down, bottom):
        x = self.saved_input if top[0] is bottom[0] else bottom[0].data
        dy = top[0].diff
        nonpos = x <= 0
        p = self.blobs[0]
        if getattr(self, "param_propagate_down", [True])[0]:
            g = dy * x * nonpos
            axes = tuple(i for i in range(x.ndim) if self.channel_shared or i != 1)
            p.diff += g.sum(axis=axes).reshape(p.shape).astype(p.diff.dtype)
        if propagate_down[0]:
            bottom[0].diff[...] = dy * (~nonpos + self._slope(x) * nonpos)
