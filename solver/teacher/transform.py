"""A teacher's input transform: the student's data blob (N, C, H, W) -> the teacher's input.

In order: ``unscale`` (undo the student's own scale), ``channels`` (a one-channel blob
repeated to that many), ``mean`` subtracted, ``scale`` (or
1 / ``std``) multiplied, channels reversed for ``channel_order`` RGB, bilinear ``resize``,
centre ``crop``, ``pad`` (with ``fill``, a value in the units after ``unscale``: raw pixels
for a student without a mean), then NHWC or flat when the ``layout`` (or, for ``auto``,
the graph's input shape) says so. The keys' meaning: ``prototxt.teacher_param.MODEL_KEYS``.

The contract each transform serves (tscaffe distill's ``--teacher-params``, relative to raw
pixels):

=====================================  ==================================================
the client's teacher was trained with  --teacher-params
=====================================  ==================================================
torchvision ``ToTensor()`` then        ``{"mean": [255 m], "std": [255 s]}`` (per channel)
``Normalize(m, s)``
Keras ``Rescaling(1/255)``             ``{"scale": 0.00392156862745098}``
Keras ``Rescaling(1/127.5, -1)``       ``{"mean": 127.5, "scale": 0.00784313725490196}``
LeNet-5's 32x32 input: MNIST padded    ``{"pad": 2}`` (``"fill"``: the border's raw value,
by 2 pixels                            default 0; ``[top, bottom, left, right]`` per side)
another input size                     ``{"resize": [h, w]}`` and/or ``{"crop": [h, w]}``
channels last (TensorFlow/Keras NHWC)  ``{"layout": "NHWC"}`` (auto-detected from the graph)
a flat ``[N, C*H*W]`` input (an MLP)   ``{"layout": "flat"}`` (auto-detected from a rank-2
                                       input whose width is C*H*W); NCHW order flattened
RGB-trained on Caffe's BGR data        ``{"channel_order": "RGB"}``
grayscale repeated to 3 channels       ``{"channels": 3}`` (then a 3-value ``mean``/``std``,
(torchvision ``Grayscale(3)``,         e.g. ImageNet's, applies per channel)
``x.repeat(1, 3, 1, 1)``)
=====================================  ==================================================
"""
import json

import numpy as np

from .errors import TeacherError

CHANNEL_ORDERS = ("BGR", "RGB")
LAYOUTS = ("auto", "NCHW", "NHWC", "flat")


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


def pad_sides(pad, path):
    """``pad``: n (every side), [vertical, horizontal] or [top, bottom, left, right], as a
    (top, bottom, left, right) tuple of non-negative ints, or None."""
    if pad is None:
        return None
    values = [pad] if isinstance(pad, (int, float)) and not isinstance(pad, bool) else pad
    ok = isinstance(values, (list, tuple)) and len(values) in (1, 2, 4) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
        and v >= 0 for v in values)
    if not ok:
        raise TeacherError(f"teacher {path}: 'pad' must be n, [vertical, horizontal] or "
                           f"[top, bottom, left, right] (non-negative integers), got {pad!r}")
    values = [int(v) for v in values]
    if len(values) == 1:
        return (values[0],) * 4
    if len(values) == 2:
        return (values[0], values[0], values[1], values[1])
    return tuple(values)


def size_pair(value, name, path):
    """``resize``/``crop``: n or [h, w] (positive integers), as (h, w), or None."""
    if value is None or value == []:
        return None
    values = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    ok = isinstance(values, (list, tuple)) and len(values) in (1, 2) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
        and v > 0 for v in values)
    if not ok:
        raise TeacherError(f"teacher {path}: '{name}' must be n or [h, w] (positive integers), "
                           f"got {value!r}")
    values = [int(v) for v in values]
    return (values[0], values[-1])


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
                 channel_order="BGR", layout="auto", resize=None, crop=None, pad=None,
                 fill=0.0, channels=None):
        self.path = path
        self.input_shape = input_shape
        self.unscale = float(unscale)
        if channels is not None and not (isinstance(channels, int)
                                         and not isinstance(channels, bool) and channels >= 1):
            raise TeacherError(f"teacher {path}: 'channels' must be a positive integer (the "
                               f"teacher's channel count), got {channels!r}")
        self.channels = channels
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
            raise TeacherError(f"teacher {path}: 'channel_order' must be 'BGR' or 'RGB', got "
                               f"{channel_order!r}")
        if layout not in LAYOUTS:
            raise TeacherError(f"teacher {path}: 'layout' must be one of "
                               f"{', '.join(map(repr, LAYOUTS))}, got {layout!r}")
        self.channel_order = channel_order
        self.reverse_channels = channel_order == "RGB"
        self.layout = layout
        self.resize = size_pair(resize, "resize", path)
        self.crop = size_pair(crop, "crop", path)
        self.pad = pad_sides(pad, path)
        self.fill = per_channel(fill, "fill", path)

    def key_parts(self):
        """What the logit cache's key needs of the transform (JSON-able, in a fixed order)."""
        parts = [self.unscale, None if self.mean is None else self.mean.tolist(),
                 self.scale.tolist(), self.channel_order, self.resize, self.crop, self.layout]
        if self.pad:   # only when set: the keys of caches made before padding existed hold
            parts.append(["pad", list(self.pad), self.fill.tolist()])
        if self.channels:   # likewise
            parts.append(["channels", self.channels])
        return parts

    def key(self):
        return json.dumps(self.key_parts(), sort_keys=True)

    def spatial_shape(self, h, w):
        """(h, w) of the data after resize, crop and pad."""
        if self.resize:
            h, w = self.resize
        if self.crop:
            h, w = self.crop
        if self.pad:
            t, b, l, r = self.pad
            h, w = h + t + b, w + l + r
        return h, w

    def flat(self, c, h, w):
        """Whether the graph wants a flat [N, c*h*w] input (``h``, ``w``: after the spatial
        transforms): the layout says so, or (auto) its input has rank 2 and that width."""
        if self.layout != "auto":
            return self.layout == "flat"
        shape = self.input_shape
        return len(shape) == 2 and shape[1] == c * h * w

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
        if self.unscale != 1.0:
            x = x * np.float32(self.unscale)
        if self.channels and x.shape[1] != self.channels:
            if x.shape[1] != 1:
                raise TeacherError(f"teacher {self.path}: 'channels' {self.channels} repeats a "
                                   f"one-channel image; the data has {x.shape[1]} channels")
            x = np.repeat(x, self.channels, axis=1)
        c = x.shape[1]
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
        if self.pad:
            x = self._pad(x)
        if x.ndim == 4 and self.flat(*x.shape[1:]):
            return np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float32)
        if x.ndim == 4 and self.nhwc(c):
            x = x.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x, dtype=np.float32)

    def _pad(self, x):
        """``x`` (after mean, scale and channel order) with the border of ``pad``, whose
        value is ``fill`` taken through the same mean, scale and channel order."""
        c = x.shape[1]
        if self.fill.size not in (1, c):
            raise TeacherError(f"teacher {self.path}: {self.fill.size} fill values for {c} "
                               "channels")
        value = np.broadcast_to(self.fill.astype(np.float32), (c,))
        if self.mean is not None:
            value = value - np.broadcast_to(self.mean, (c,))
        value = value * np.broadcast_to(self.scale, (c,))
        if self.reverse_channels:
            value = value[::-1]
        t, b, l, r = self.pad
        n, _, h, w = x.shape
        out = np.empty((n, c, h + t + b, w + l + r), np.float32)
        out[...] = value.reshape(1, c, 1, 1)
        out[:, :, t:t + h, l:l + w] = x
        return out
