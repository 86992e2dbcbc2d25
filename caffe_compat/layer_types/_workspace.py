"""Reusable scratch arrays for layers (im2col columns, padded images, GEMM outputs).

Allocating large temporaries every iteration makes glibc return them to the OS and fault
them back in (see the performance notes), so layers keep their scratch arrays between
calls and only reallocate when the shape or dtype changes.
"""
from ..backend import xp


class Workspace:
    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype, zero=False):
        """The array called ``name`` with this shape and dtype; zero-filled if ``zero``."""
        shape = tuple(int(d) for d in shape)
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = xp.zeros(shape, dtype=dtype)
            self._arrays[name] = a
        elif zero:
            a.fill(0)
        return a

    def fresh(self, name, shape, dtype):
        """Like ``get``, and True when the array was (re)allocated (so it is all zeros)."""
        shape = tuple(int(d) for d in shape)
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            return self.get(name, shape, dtype), True
        return a, False

    def __deepcopy__(self, memo):
        return Workspace()
