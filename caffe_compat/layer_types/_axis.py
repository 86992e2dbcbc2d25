"""Axis arithmetic shared by the layers that work along one axis: Caffe's CanonicalAxisIndex
with the layer's own error message, the legacy ``concat_dim``/``slice_dim`` fields, and the
consecutive parts of an axis that Concat and Slice copy between."""


def canonical_axis(layer, axis, shape, field="axis"):
    """Negative ``axis`` counts from the end; out of range is the layer's error, naming
    ``field`` and the bottom's shape."""
    n = len(shape)
    if not -n <= axis < max(n, 1):
        raise layer.error(f"{field} {axis} out of range for a {n}-axis bottom", bottom0=shape)
    return axis + n if axis < 0 else axis


def check_axis_or_legacy(layer, param, legacy_field):
    """Caffe refuses ``axis`` together with the legacy ``<legacy_field>``."""
    if param.HasField("axis") and param.HasField(legacy_field):
        raise layer.error(f"either axis or {legacy_field} should be specified; not both")


def axis_or_legacy(layer, param, legacy_field, shape):
    """The legacy ``<legacy_field>`` (uint32: no negatives) when set, else ``axis``."""
    if param.HasField(legacy_field):
        axis = int(getattr(param, legacy_field))
        if axis >= len(shape):
            raise layer.error(f"{legacy_field} {axis} out of range for a {len(shape)}-axis "
                              f"bottom", bottom0=shape)
        return axis
    return canonical_axis(layer, param.axis, shape)


def axis_parts(sizes, axis, ndim):
    """Index tuples of the consecutive parts of ``axis`` with the given ``sizes``."""
    start = 0
    for size in sizes:
        index = [slice(None)] * ndim
        index[axis] = slice(start, start + size)
        yield tuple(index)
        start += size
