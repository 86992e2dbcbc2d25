"""MemoryData layer: batches from numpy arrays held in memory (Caffe's MemoryDataLayer).

``memory_data_param`` (caffe.proto defaults): ``batch_size``, ``channels``, ``height``,
``width`` (no defaults: all must be positive). Tops: ``data`` (batch_size x channels x height
x width) and ``label`` (batch_size,).

Feed it with ``layer.set_input_arrays(data, labels)`` (pycaffe's ``Net.set_input_arrays``) or
``layer.reset(data, labels, n)``: ``data`` float32 (n, C, H, W), ``labels`` n values, ``n`` a
multiple of batch_size. Each forward hands out the next ``batch_size`` samples, wrapping
around at ``n``; the arrays are used as given (no transform_param), as in Caffe. The arrays
are kept by reference; the tops are views into them, so no copy is made per batch.
"""
import numpy as np

from .base import Layer, register


@register("MemoryData")
class MemoryDataLayer(Layer):
    EXACT_NUM_BOTTOM = 0
    EXACT_NUM_TOP = 2

    def setup(self, bottom, top):
        p = self.layer_param.memory_data_param
        self.batch_size, self.channels = int(p.batch_size), int(p.channels)
        self.height, self.width = int(p.height), int(p.width)
        dims = (self.batch_size, self.channels, self.height, self.width)
        if min(dims) <= 0:
            raise self.error("memory_data_param batch_size, channels, height and width must "
                             f"all be positive, got {dims}")
        top[0].reshape(dims)
        top[1].reshape(self.batch_size)
        self.data = self.labels = None
        self.n = 0
        self.pos = 0

    def set_input_arrays(self, data, labels):
        """pycaffe's set_input_arrays: float32 C-contiguous (n, C, H, W) data and n labels."""
        data = np.asarray(data)
        labels = np.asarray(labels)
        if data.dtype != np.float32 or labels.dtype != np.float32:
            raise self.error(f"set_input_arrays needs float32 arrays, got data {data.dtype} "
                             f"and labels {labels.dtype}")
        self.reset(data, labels, len(data))

    def reset(self, data, labels, n):
        data = np.ascontiguousarray(data, dtype=np.float32)
        labels = np.ascontiguousarray(np.asarray(labels, dtype=np.float32).reshape(-1))
        want = (self.channels, self.height, self.width)
        if data.ndim != 4 or data.shape[1:] != want:
            raise self.error(f"input data must be n x {want[0]} x {want[1]} x {want[2]} "
                             "(memory_data_param)", data=data.shape)
        if len(labels) != len(data) or n != len(data):
            raise self.error(f"data holds {len(data)} samples, labels {len(labels)}, n={n}: "
                             "they must be equal")
        if n == 0 or n % self.batch_size:
            raise self.error(f"the number of samples ({n}) must be a positive multiple of "
                             f"batch_size ({self.batch_size})")
        self.data, self.labels, self.n, self.pos = data, labels, int(n), 0

    def set_batch_size(self, new_size):
        if self.data is not None and self.n % new_size:
            raise self.error(f"batch_size {new_size} does not divide the {self.n} samples set")
        self.batch_size = int(new_size)

    def get_state(self):
        return {"pos": int(self.pos)}

    def set_state(self, state):
        self.pos = int(state["pos"]) % max(self.n, 1)

    def reshape(self, bottom, top):
        top[0].reshape(self.batch_size, self.channels, self.height, self.width)
        top[1].reshape(self.batch_size)

    def forward(self, bottom, top):
        if self.data is None:
            raise self.error("MemoryData needs its input: call set_input_arrays(data, labels) "
                             "(or reset) before the first forward")
        end = self.pos + self.batch_size
        top[0].data = self.data[self.pos:end]
        top[1].data = self.labels[self.pos:end]
        self.pos = end % self.n
