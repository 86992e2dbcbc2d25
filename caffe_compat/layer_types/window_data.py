"""WindowData: R-CNN's layer of warped image windows (Caffe's WindowDataLayer).

The window file (window_data_param.source) repeats, whitespace-separated::

    # image_index
    img_path            (window_data_param.root_folder is prefixed)
    channels height width
    num_windows
    class_index overlap x1 y1 x2 y2      (num_windows lines; inclusive pixel box)

``image_index`` is the position of the image in the file (0, 1, ...). A window is
foreground when overlap >= fg_threshold (its class must then be > 0), background (label
and overlap forced to 0) when overlap < bg_threshold, dropped otherwise.

Each batch (window_data_param.batch_size items) holds batch_size - num_fg background
windows, then num_fg = int(batch_size * fg_fraction) foreground ones, each drawn uniformly
(with replacement) from its list, and mirrored with probability 1/2 if transform_param
.mirror. A window is cropped from its image (read as 3-channel BGR) and warped with OpenCV's
INTER_LINEAR to crop_size x crop_size (transform_param.crop_size, required). With
context_pad > 0 or crop_mode "square" the box is first scaled about its centre by
crop_size / (crop_size - 2 * context_pad) ("square": its shorter side made equal to the
longer first); the part of the scaled box outside the image is cut off and the warped
remainder placed where it belongs, the rest of the crop left 0 (Caffe's float arithmetic and
round-half-away-from-zero reproduced). Pixels become (pixel - mean) * window_data_param.scale,
the mean from transform_param.mean_file (read at an offset (mean_width - crop_size) / 2)
or mean_value (one, or one per channel); transform_param.scale is not used.

Defaults (caffe.proto): scale 1, fg_threshold 0.5, bg_threshold 0.5, fg_fraction 0.25,
context_pad 0, crop_mode "warp", cache_images false, root_folder "". The crop_size, mirror
and mean_file fields inside window_data_param are not read (Caffe reads transform_param's).
Tops: data (batch_size, channels, crop_size, crop_size) with the channels of the file's last
image, and label (batch_size,).
"""
import math

import numpy as np

from .. import rng as _rng
from ..data.convert import read_image
from ..data.cv_resize import resize_linear
from ..data.transformer import load_mean_file
from .base import Layer, register

IMAGE, LABEL, OVERLAP, X1, Y1, X2, Y2 = range(7)
F32 = np.float32


def c_round(x):
    """C's round(): halves away from zero."""
    x = float(x)
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def parse_window_file(text, source, root, fg_threshold, bg_threshold, layer):
    """(images [(path, (c, h, w))], fg windows, bg windows) of a window file's text."""
    tokens = text.split()
    pos = 0

    def take(kind, what):
        nonlocal pos
        if pos >= len(tokens):
            raise layer.error(f"window file '{source}' ends early: expected {what}")
        tok = tokens[pos]
        pos += 1
        try:
            return kind(tok)
        except ValueError:
            raise layer.error(f"window file '{source}': expected {what}, got '{tok}' (token {pos})") from None

    if len(tokens) < 2:
        raise layer.error(f"Window file is empty: '{source}' (window_data_param.source)")
    images, fg, bg = [], [], []
    while pos < len(tokens):
        hashtag = take(str, "'#'")
        if hashtag != "#":
            raise layer.error(f"window file '{source}': expected '#' before an image, got '{hashtag}' "
                              f"(token {pos})")
        index = take(int, "an image index")
        path = root + take(str, "an image path")
        size = tuple(take(int, f"the {w} of image {index}") for w in ("channels", "height", "width"))
        images.append((path, size))
        for _ in range(take(int, f"the number of windows of image {index}")):
            label = take(int, "a class index")
            overlap = F32(take(float, "an overlap"))
            box = [take(int, f"window coordinate {c}") for c in ("x1", "y1", "x2", "y2")]
            window = [index, label, overlap] + box
            if overlap >= F32(fg_threshold):
                if label <= 0:
                    raise layer.error(f"window file '{source}': foreground window of image {index} "
                                      f"(overlap {overlap:g} >= fg_threshold) has class {label}; it must be > 0")
                fg.append(window)
            elif overlap < F32(bg_threshold):
                window[LABEL], window[OVERLAP] = 0, 0
                bg.append(window)
    return images, fg, bg


@register("WindowData")
class WindowDataLayer(Layer):
    EXACT_NUM_BOTTOM = 0
    EXACT_NUM_TOP = 2

    def setup(self, bottom, top):
        p = self.layer_param.window_data_param
        tp = self.layer_param.transform_param
        self.p = p
        try:
            with open(p.source) as f:
                text = f.read()
        except OSError as e:
            raise self.error(f"Failed to open window file '{p.source}' (window_data_param.source): "
                             f"{e.strerror}") from None
        self.images, self.fg, self.bg = parse_window_file(
            text, p.source, p.root_folder, p.fg_threshold, p.bg_threshold, self)
        for w in self.fg + self.bg:
            if not 0 <= w[IMAGE] < len(self.images):
                raise self.error(f"window file '{p.source}': image index {w[IMAGE]} is not the position "
                                 f"of an image (0 .. {len(self.images) - 1})")
        if not self.fg or not self.bg:
            raise self.error(f"window file '{p.source}' has {len(self.fg)} foreground and {len(self.bg)} "
                             "background windows; WindowData needs both (fg_threshold / bg_threshold)")
        self.crop = int(tp.crop_size)
        if self.crop <= 0:
            raise self.error("transform_param.crop_size must be > 0 (the size windows are warped to)")
        if p.batch_size <= 0:
            raise self.error(f"window_data_param.batch_size must be positive, got {p.batch_size}")
        if 2 * p.context_pad >= self.crop:
            raise self.error(f"context_pad {p.context_pad} leaves nothing of a {self.crop}-pixel crop")
        if p.crop_mode not in ("warp", "square"):
            raise self.error(f"window_data_param.crop_mode must be \"warp\" or \"square\", got \"{p.crop_mode}\"")
        self.channels = self.images[-1][1][0]
        if self.channels != 3:
            raise self.error(f"images are read in color (3 channels); the window file says {self.channels}")
        self.mirror = bool(tp.mirror)
        self.mean = self.mean_values = None
        if tp.HasField("mean_file"):
            if len(tp.mean_value):
                raise self.error("Cannot specify mean_file and mean_value at the same time")
            self.mean = load_mean_file(tp.mean_file)
            off = int((self.mean.shape[2] - self.crop) / 2)
            if off < 0 or self.mean.shape[0] != self.channels or self.mean.shape[1] < self.crop + off:
                raise self.error(f"mean file '{tp.mean_file}' of shape {self.mean.shape} does not cover a "
                                 f"{self.channels} x {self.crop} x {self.crop} crop")
            self.mean_off = off
        elif len(tp.mean_value):
            values = [float(v) for v in tp.mean_value]
            if len(values) not in (1, self.channels):
                raise self.error(f"Specify either 1 mean_value or as many as channels: {self.channels}")
            self.mean_values = np.array(values * (self.channels if len(values) == 1 else 1), F32)
        self.cache = {} if p.cache_images else None
        self.batch = int(p.batch_size)
        top[0].reshape((self.batch, self.channels, self.crop, self.crop))
        top[1].reshape((self.batch,))

    def reshape(self, bottom, top):
        """Shapes are fixed at setup."""

    def _image(self, index):
        path = self.images[index][0]
        if self.cache is not None and path in self.cache:
            return self.cache[path]
        img = read_image(path, is_color=True)
        if img is None:
            raise self.error(f"Could not open or find file '{path}'")
        if self.cache is not None:
            self.cache[path] = img
        return img

    def render(self, window, do_mirror):
        """The float32 (C, crop, crop) input of one window, as Caffe's load_batch fills it."""
        img = self._image(window[IMAGE])
        _, rows, cols = img.shape
        crop, pad = self.crop, int(self.p.context_pad)
        x1, y1, x2, y2 = window[X1:]
        out_h = out_w = crop
        pad_h = pad_w = 0
        if pad > 0 or self.p.crop_mode == "square":
            context_scale = F32(crop) / F32(crop - 2 * pad)
            half_h, half_w = F32((y2 - y1 + 1) / 2.0), F32((x2 - x1 + 1) / 2.0)
            cx, cy = F32(x1) + half_w, F32(y1) + half_h
            if self.p.crop_mode == "square":
                half_h = half_w = max(half_h, half_w)
            x1, x2 = c_round(cx - half_w * context_scale), c_round(cx + half_w * context_scale)
            y1, y2 = c_round(cy - half_h * context_scale), c_round(cy + half_h * context_scale)
            unclipped_h, unclipped_w = y2 - y1 + 1, x2 - x1 + 1
            px1, py1 = max(0, -x1), max(0, -y1)
            px2, py2 = max(0, x2 - cols + 1), max(0, y2 - rows + 1)
            x1, x2, y1, y2 = x1 + px1, x2 - px2, y1 + py1, y2 - py2
            scale_x, scale_y = F32(crop) / F32(unclipped_w), F32(crop) / F32(unclipped_h)
            out_w = c_round(F32(x2 - x1 + 1) * scale_x)
            out_h = c_round(F32(y2 - y1 + 1) * scale_y)
            px1, px2 = c_round(F32(px1) * scale_x), c_round(F32(px2) * scale_x)
            pad_h = c_round(F32(py1) * scale_y)
            pad_w = px2 if do_mirror else px1
            out_h = min(out_h, crop - pad_h)
            out_w = min(out_w, crop - pad_w)
        if not (0 <= x1 <= x2 < cols and 0 <= y1 <= y2 < rows):
            raise self.error(f"window ({window[X1]}, {window[Y1]}, {window[X2]}, {window[Y2]}) of image "
                             f"{window[IMAGE]} lies outside its {rows} x {cols} pixels")
        roi = np.ascontiguousarray(img[:, y1:y2 + 1, x1:x2 + 1].transpose(1, 2, 0))
        warped = resize_linear(roi, out_h, out_w)
        if do_mirror:
            warped = warped[:, ::-1]
        pixels = warped.transpose(2, 0, 1).astype(F32)
        out = np.zeros((self.channels, crop, crop), F32)
        if self.mean is not None:
            o = self.mean_off
            pixels = pixels - self.mean[:, o + pad_h:o + pad_h + out_h, o + pad_w:o + pad_w + out_w]
        elif self.mean_values is not None:
            pixels = pixels - self.mean_values[:, None, None]
        out[:, pad_h:pad_h + out_h, pad_w:pad_w + out_w] = pixels * F32(self.p.scale)
        return out

    def forward(self, bottom, top):
        g = _rng.get_rng()
        num_fg = int(F32(self.batch) * F32(self.p.fg_fraction))
        item = 0
        for windows, count in ((self.bg, self.batch - num_fg), (self.fg, num_fg)):
            for _ in range(count):
                window = windows[int(g.integers(len(windows)))]
                do_mirror = self.mirror and bool(g.integers(2))
                top[0].data[item] = self.render(window, do_mirror)
                top[1].data[item] = window[LABEL]
                item += 1
