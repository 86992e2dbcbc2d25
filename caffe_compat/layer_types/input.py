"""Input: the net's entry points (Caffe's InputLayer).

``input_param { shape {...} }`` gives one shape for every top, or one shape per top; with no
shape the tops keep whatever shape the user gives them. Forward and Reshape do nothing: the
user writes the data (``net.blobs[name].data[...] = x``) and reshapes the blob (then
``net.reshape()``) to change the batch. Defaults: no shapes.
"""
from .base import Layer, register


@register("Input")
class InputLayer(Layer):
    EXACT_NUM_BOTTOM = 0
    MIN_TOP = 1

    def setup(self, bottom, top):
        shapes = self.layer_param.input_param.shape
        if len(shapes) not in (0, 1, len(top)):
            raise self.error(
                f"input_param must specify 0, 1 or {len(top)} (one per top) shapes, got {len(shapes)}"
            )
        for i, blob in enumerate(top):
            if not len(shapes):
                break
            dims = tuple(shapes[0 if len(shapes) == 1 else i].dim)
            if any(d < 0 for d in dims):
                raise self.error(f"negative dimension in input shape {dims} of top '{blob.name}'")
            blob.reshape(dims)

    def reshape(self, bottom, top):
        """Nothing: the tops are shaped by the user (Caffe's InputLayer::Reshape is empty)."""

    def forward(self, bottom, top):
        """Nothing: the tops already hold the user's data."""
