"""pycaffe's coord_map: how spatial coordinates move between NetSpec tops.

A map is ``(axis, a, b)``: an output coordinate ``y`` of a layer sees the input coordinate
``x = a * y + b`` along the spatial axes from ``axis`` on (``a``, ``b`` arrays, one entry per
axis, or scalars; ``axis`` None where the layer does not care, as for pointwise layers).

- Convolution / Pooling / Im2col with stride ``s``, effective kernel ``k = (ks-1)*dilation+1``
  and pad ``p``: ``a = 1/s``, ``b = (p - (k-1)/2) / s`` (the map from input to output);
- Deconvolution: ``a = s``, ``b = (k-1)/2 - p``;
- Crop at ``axis`` with ``offset``: axis ``axis-1``, ``a = 1``, ``b = -offset``;
- pointwise layers (``PASS_THROUGH_LAYERS``): ``(None, 1, 0)``; any other type has no map.

``coord_map_from_to(top_from, top_to)`` composes the maps from both tops back to a common
ancestor and inverts the ``from`` side; ``crop(top_from, top_to)`` makes the Crop layer that
aligns ``top_from`` with ``top_to`` (only for equal scales and whole, non-positive shifts).
"""
import numpy as np

from .net_spec import layers as L

PASS_THROUGH_LAYERS = ["AbsVal", "BatchNorm", "Bias", "BNLL", "Dropout", "Eltwise", "ELU", "Log",
                       "LRN", "Exp", "MVN", "Power", "ReLU", "PReLU", "Scale", "Sigmoid", "Split",
                       "TanH", "Threshold"]


class UndefinedMapException(Exception):
    """The layer type has no coordinate map."""


class AxisMismatchException(Exception):
    """Two maps act on different axes."""


def conv_params(fn):
    """(axis, stride, effective kernel size, pad) of a Convolution-like Function, as arrays."""
    p = fn.params.get("convolution_param", fn.params)
    legacy = {"pad_h", "pad_w", "kernel_h", "kernel_w", "stride_h", "stride_w"} & set(fn.params)
    if legacy:
        raise AssertionError("cropping does not support legacy _h/_w params "
                             f"({', '.join(sorted(legacy))} in a {fn.type_name} layer)")
    kernel = np.array(p["kernel_size"], ndmin=1)
    dilation = np.array(p.get("dilation", 1), ndmin=1)
    return (p.get("axis", 1), np.array(p.get("stride", 1), ndmin=1),
            (kernel - 1) * dilation + 1, np.array(p.get("pad", 0), ndmin=1))


def crop_params(fn):
    """(axis, offset) of a Crop Function (axis 2 by default: the spatial axes of N,C,H,W)."""
    p = fn.params.get("crop_param", fn.params)
    return p.get("axis", 2), np.array(p.get("offset", 0), ndmin=1)


def coord_map(fn):
    """The (axis, a, b) map of one layer (see the module's docstring)."""
    if fn.type_name in ("Convolution", "Pooling", "Im2col"):
        axis, stride, kernel, pad = conv_params(fn)
        return axis, 1 / stride, (pad - (kernel - 1) / 2) / stride
    if fn.type_name == "Deconvolution":
        axis, stride, kernel, pad = conv_params(fn)
        return axis, stride, (kernel - 1) / 2 - pad
    if fn.type_name in PASS_THROUGH_LAYERS:
        return None, 1, 0
    if fn.type_name == "Crop":
        axis, offset = crop_params(fn)
        return axis - 1, 1, -offset
    raise UndefinedMapException(f"no coordinate map for a {fn.type_name} layer")


def compose(base_map, next_map):
    """``base_map`` followed by ``next_map``: scales multiply, the second shift is scaled."""
    ax1, a1, b1 = base_map
    ax2, a2, b2 = next_map
    if ax1 is None:
        axis = ax2
    elif ax2 is None or ax1 == ax2:
        axis = ax1
    else:
        raise AxisMismatchException(f"maps on axis {ax1} and axis {ax2} do not compose")
    return axis, a1 * a2, a1 * b2 + b1


def inverse(coord_map):
    """The map back: ``x = a*y + b`` becomes ``y = x/a - b/a``."""
    axis, a, b = coord_map
    return axis, 1 / a, -b / a


def _mapped_bottoms(top):
    # A Crop layer's second bottom only gives the size: coordinates come from the first.
    return top.fn.inputs[:1] if top.fn.type_name == "Crop" else top.fn.inputs


def _walk_down(start, maps, stop=None):
    frontier = [start]
    while frontier:
        top = frontier.pop()
        if stop is not None and top in stop:
            return top
        try:
            step = coord_map(top.fn)
        except UndefinedMapException:
            continue
        for bottom in _mapped_bottoms(top):
            maps[bottom] = compose(maps[top], step)
            frontier.append(bottom)
    return None


def coord_map_from_to(top_from, top_to):
    """The map from ``top_from``'s coordinates to ``top_to``'s, through a common ancestor;
    RuntimeError when no chain of spatial layers joins them."""
    identity = (None, 1, 0)
    from_maps = {top_from: identity}
    _walk_down(top_from, from_maps)
    to_maps = {top_to: identity}
    meeting = _walk_down(top_to, to_maps, stop=from_maps)
    if meeting is None:
        raise RuntimeError("Could not compute map between tops; are they connected by spatial layers?")
    return compose(to_maps[meeting], inverse(from_maps[meeting]))


def crop(top_from, top_to):
    """A Crop layer (a Top) that crops ``top_from`` to the region ``top_to`` covers."""
    axis, a, b = coord_map_from_to(top_from, top_to)
    if not np.all(a == 1):
        raise AssertionError(f"scale mismatch on crop (a = {a})")
    if not np.all(b <= 0):
        raise AssertionError(f"cannot crop negative offset (b = {b})")
    if not np.all(np.round(b) == b):
        raise AssertionError(f"cannot crop noninteger offset (b = {b})")
    offsets = [int(v) for v in np.atleast_1d(-np.round(b))]
    return L.Crop(top_from, top_to, crop_param=dict(axis=axis + 1, offset=offsets))
