"""The layer side of Caffe's BasePrefetchingDataLayer, shared by Data and ImageData."""
import numpy as np

from .base import Layer


class PrefetchingLayer(Layer):
    """A data layer whose setup starts ``self.prefetcher`` (``caffe_compat.data.prefetch``);
    forward copies the next ``(data, labels)`` batch into the tops (``labels`` only where
    there is a second top). Subclasses whose batches carry more override ``next_batch``."""
    EXACT_NUM_BOTTOM = 0

    def next_batch(self):
        return self.prefetcher.get()

    def reshape(self, bottom, top):
        """Shapes are set by setup and by each batch in forward."""

    def forward(self, bottom, top):
        data, labels = self.next_batch()
        top[0].reshape(data.shape)
        np.copyto(top[0].data, data, casting="unsafe")
        if len(top) > 1:
            top[1].reshape(labels.shape)
            np.copyto(top[1].data, labels, casting="unsafe")

    def close(self):
        pf = getattr(self, "prefetcher", None)
        if pf is not None:
            pf.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
