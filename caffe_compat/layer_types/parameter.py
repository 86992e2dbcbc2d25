"""Parameter: a learnable blob given as the layer's top (no bottoms).

parameter_param (caffe.proto): ``shape`` (default: a 0-axis blob). Parameter blob 0 has that
shape and starts at zero (Caffe uses no filler: load values from a caffemodel). The top
shares the blob's data and diff, as Caffe's ShareData/ShareDiff in Forward: whatever the
layers above write into the top's diff is the parameter's gradient (overwritten, not
accumulated, exactly as in Caffe). Backward does nothing more.
"""
from ..blob import Blob
from .base import Layer, register


@register("Parameter")
class ParameterLayer(Layer):
    EXACT_NUM_BOTTOM = 0
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        shape = tuple(int(d) for d in self.layer_param.parameter_param.shape.dim)
        if any(d < 0 for d in shape):
            raise self.error(f"negative dimension in parameter_param.shape {shape}")
        if not self.blobs:
            self.blobs.append(Blob(shape, name=f"{self.name}/0"))
        top[0].reshape(shape)

    def reshape(self, bottom, top):
        """Nothing: the shape is the parameter's."""

    def forward(self, bottom, top):
        p = self.blobs[0]
        top[0].data = p.data
        top[0].diff = p.diff

    def backward(self, top, propagate_down, bottom):
        p = self.blobs[0]
        if top[0].diff is not p.diff:  # the sharing was broken (the top re-allocated)
            p.diff[...] = top[0].diff
