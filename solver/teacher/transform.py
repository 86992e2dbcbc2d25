"""A teacher's input transform: the student's data blob (N, C, H, W) -> the teacher's input.

In order: ``unscale`` (undo the student's own scale), ``mean`` subtracted, ``scale`` (or
1 / ``std``) multiplied, channels reversed for ``channel_order`` RGB, bilinear ``resize``,
centre ``crop``, then NHWC when the ``layout`` (or, for ``auto``, the graph's input shape)
says so. The keys' meaning: ``prototxt.teacher_param.MODEL_KEYS``.
"""
import json

import numpy as np

from .errors import TeacherError

CHANNEL_ORDERS = ("BGR", "RGB")
LAYOUTS = ("auto", "NCHW", "NHWC")


def resize_bilinear(x, height, width):
    """Bilinear resize of (N, C, H, W) with half-pixel centres (PIL/OpenCV convention)."""
    n, c, h, w = x.shape
    if (h, w) == (height, width):
        return x

    def axis_weights(src, dst):
        pos = (np.arange(dst) + 0.5) * (src / dst) - 0.5
        pos = np.clip(pos, 0, src - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, (pos - lo).astype(x.dtype)

    y0, y1, wy = axis_weights(h, height)
    x0, x1, wx = axis_weights(w, width)
    rows = x[:, :, y0, :] * (1 - wy)[:, None] + x[:, :, y1, :] * wy[:, None]
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx


def per_channel(value, name, path):
    """One value or one per channel, as a float32 vector, or None."""
    if value is None:
        return None
    try:
        return np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise TeacherError(f"teacher {path}: '{name}' must be a number or a list of numbers, "
                           f"got {value!r}") from None


class InputTransform:
    """The transform of one teacher (``path`` names it in errors; ``input_shape`` is the
    graph's input shape, which ``layout`` "auto" reads)."""

    def __init__(self, path, input_shape, unscale=1.0, mean=None, scale=1.0, std=None,
                 channel_order="BGR", layout="auto", resize=None, crop=None):
        self.path = path
        self.input_shape = input_shape
        self.unscale = float(unscale)
        self.mean = per_channel(mean, "mean", path)
        if std is not None:
            if scale != 1.0:
                raise TeacherError(f"teacher {path}: give 'scale' or 'std', not both")
            std = per_channel(std, "std", path)
            if np.any(std <= 0):
                raise TeacherError(f"teacher {path}: 'std' must be > 0, got {std.tolist()}")
            scale = (1.0 / std.astype(np.float64)).astype(np.float32)
        self.scale = per_channel(scale, "scale", path)
        if channel_order not in CHANNEL_ORDERS:
            raise TeacherError(f"channel_order must be 'BGR' or 'RGB', got {channel_order!r}")
        if layout not in LAYOUTS:
            raise TeacherError(f"layout must be 'auto', 'NCHW' or 'NHWC', got {layout!r}")
        self.channel_order = channel_order
        self.reverse_channels = channel_order == "RGB"
        self.layout = layout
        self.resize = tuple(resize) if resize else None
        self.crop = tuple(crop) if crop else None

    def key_parts(self):
        """What the logit cache's key needs of the transform (JSON-able, in a fixed order)."""
        return [self.unscale, None if self.mean is None else self.mean.tolist(),
                self.scale.tolist(), self.channel_order, self.resize, self.crop, self.layout]

    def key(self):
        return json.dumps(self.key_parts(), sort_keys=True)

    def nhwc(self, c):
        """Whether the graph wants channels last, for data with ``c`` channels."""
        if self.layout != "auto":
            return self.layout == "NHWC"
        shape = self.input_shape
        if len(shape) != 4:
            return False
        return shape[1] != c and shape[3] == c and isinstance(shape[1], int)

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float32)
        c = x.shape[1]
        if self.unscale != 1.0:
            x = x * np.float32(self.unscale)
        channel_shape = (1, -1) + (1,) * (x.ndim - 2)
        for name, values in (("mean", self.mean), ("scale", self.scale)):
            if values is not None and values.size not in (1, c):
                raise TeacherError(f"teacher {self.path}: {values.size} {name} values for "
                                   f"{c} channels")
        if self.mean is not None:
            x = x - self.mean.reshape(channel_shape)
        if self.scale.size > 1 or self.scale[0] != 1.0:
            x = x * self.scale.reshape(channel_shape)
        if self.reverse_channels:
            x = x[:, ::-1]
        if self.resize:
            x = resize_bilinear(x, *self.resize)
        if self.crop:
            ch, cw = self.crop
            h, w = x.shape[2:]
            if ch > h or cw > w:
                raise TeacherError(f"teacher {self.path}: crop {ch}x{cw} larger than input {h}x{w}")
            top, left = (h - ch) // 2, (w - cw) // 2
            x = x[:, :, top:top + ch, left:left + cw]
        if x.ndim == 4 and self.nhwc(c):
            x = x.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x, dtype=np.float32)
