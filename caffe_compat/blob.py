"""Blob: a named N-d array of values and gradients, as Caffe's ``Blob<float>``."""
import numpy as np

from .backend import xp


class Blob:
    """``data`` and ``diff`` are writable arrays of one shape (float32 unless told).

    ``reshape`` keeps the arrays when the shape does not change (so views and values
    survive, as in Caffe) and allocates zeroed arrays when it does.
    """

    __slots__ = ("data", "_diff", "name")

    def __init__(self, shape=(), dtype=np.float32, name=""):
        shape = tuple(int(d) for d in shape)
        self.data = xp.zeros(shape, dtype=dtype)
        self._diff = None
        self.name = name

    @property
    def diff(self):
        """The gradient, allocated (zeroed) on first use: blobs that never take part in a
        backward pass (data feeding only a frozen teacher, say) cost no gradient memory,
        as Caffe's lazily allocated SyncedMemory does."""
        d = self._diff
        if d is None or d.shape != self.data.shape:
            d = self._diff = xp.zeros(self.data.shape, dtype=self.data.dtype)
        return d

    @diff.setter
    def diff(self, value):
        self._diff = value

    @property
    def diff_allocated(self):
        return self._diff is not None

    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def count(self):
        return int(self.data.size)

    @property
    def num_axes(self):
        return self.data.ndim

    def reshape(self, *shape):
        """``reshape(2, 3)`` or ``reshape((2, 3))``; pycaffe accepts both."""
        if len(shape) == 1 and not np.isscalar(shape[0]):
            shape = tuple(shape[0])
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ValueError(f"blob '{self.name}': negative dimension in shape {shape}")
        if shape != self.data.shape:
            self.data = xp.zeros(shape, dtype=self.data.dtype)
            self._diff = None

    def reshape_like(self, other):
        self.reshape(other.shape)

    def canonical_axis(self, axis):
        """Caffe's CanonicalAxisIndex: negative axes count from the end."""
        n = self.data.ndim
        if not -n <= axis < max(n, 1):
            raise IndexError(f"axis {axis} out of range for a {n}-axis blob {self.shape}")
        return axis + n if axis < 0 else axis

    def count_range(self, start, end=None):
        end = self.data.ndim if end is None else end
        return int(np.prod(self.data.shape[start:end], dtype=np.int64))

    # Legacy 4-D accessors (pycaffe and old code use them).
    def _legacy(self, i):
        n = self.data.ndim
        if n > 4:
            raise ValueError("legacy num/channels/height/width need a blob of at most 4 axes")
        return int(self.data.shape[i]) if i < n else 1

    @property
    def num(self):
        return self._legacy(0)

    @property
    def channels(self):
        return self._legacy(1)

    @property
    def height(self):
        return self._legacy(2)

    @property
    def width(self):
        return self._legacy(3)

    def __repr__(self):
        return f"Blob({self.name!r}, shape={self.shape})"
