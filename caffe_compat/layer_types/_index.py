"""Integer types for index arrays, sized from the largest value they must hold.

An index type chosen from a guess wraps around silently once a blob is larger than the
guess (MAX pooling's window offsets were int8 and wrapped on 112-pixel maps); every index
array is typed from the shape it indexes instead.
"""
from ..backend import xp

_SIGNED = (xp.int8, xp.int16, xp.int32, xp.int64)


def index_dtype(largest, smallest=xp.int32):
    """The narrowest signed integer type, no narrower than ``smallest``, that holds every
    value in ``-1 .. largest`` (and products of them with the shape's strides that the
    caller bounds by ``largest``)."""
    floor = xp.dtype(smallest).itemsize
    for t in _SIGNED:
        if xp.dtype(t).itemsize >= floor and int(largest) <= xp.iinfo(t).max:
            return t
    raise OverflowError(f"no integer type holds index {largest}")
