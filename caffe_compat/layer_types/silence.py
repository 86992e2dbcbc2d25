"""Silence: consume blobs so they are not net outputs (Caffe's SilenceLayer).

No tops, no forward computation; backward sets every bottom diff that needs a gradient to 0.
"""
from .base import Layer, register


@register("Silence")
class SilenceLayer(Layer):
    MIN_BOTTOM = 1
    EXACT_NUM_TOP = 0

    def reshape(self, bottom, top):
        """Nothing to shape."""

    def forward(self, bottom, top):
        """Nothing to compute."""

    def backward(self, top, propagate_down, bottom):
        for b, prop in zip(bottom, propagate_down):
            if prop:
                b.diff[...] = 0
