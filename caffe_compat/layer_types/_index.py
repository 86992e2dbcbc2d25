"""Integer types for index arrays, sized from the largest value they must hold.

An index type chosen from a guess wraps around silently once a blob is larger than the
guess (MAX pooling's window offsets were int8 and wrapped on 112-pixel maps); every index
array is typed from the shape it indexes instead.
"""
import numpy as np

_SIGNED = (np.int8, np.int16, np.int32, np.int64)


def index_dtype(largest, smallest=np.int32):
    """The narrowest signed integer type, no narrower than ``smallest``, that holds every
    value in ``-1 .. largest`` (and products of them with the shape's strides that the
    caller bounds by ``largest``)."""
    floor = np.dtype(smallest).itemsize
    for t in _SIGNED:
        if np.dtype(t).itemsize >= floor and int(largest) <= np.iinfo(t).max:
            return t
    raise OverflowError(f"no integer type holds index {largest}")
