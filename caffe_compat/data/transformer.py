"""Caffe's DataTransformer (data_transformer.cpp), vectorised over a batch.

For each sample, in Caffe's order (``transform_param``, caffe.proto defaults in brackets):

1. crop [crop_size: 0 = none]: a ``crop_size`` x ``crop_size`` window; its offset is uniform
   in ``[0, H - crop_size]`` x ``[0, W - crop_size]`` in TRAIN and the centre
   ``((H - crop_size) // 2, (W - crop_size) // 2)`` in TEST;
2. mirror [false]: with probability 1/2 the window is flipped left-right. As in Caffe 1.0
   (``do_mirror = param_.mirror() && Rand(2)``) this does not look at the phase: nets ask
   for it in their TRAIN-phase transform_param only;
3. mean [none]: ``mean_file`` (a binaryproto of shape 1 x C x H x W; the mean is taken at the
   same pixel as the data, i.e. cropped at the same offset, before the flip moves it) or
   ``mean_value`` (one per channel, or one for all channels);
4. scale [1]: ``out = (x - mean) * scale``, in float32 as Caffe's ``Dtype`` arithmetic.

Randomness comes from a generator seeded once from ``caffe_compat.rng`` (as Caffe seeds the
transformer's RNG from ``caffe_rng_rand()``), so a solver ``random_seed`` fixes every crop and
flip while the prefetch thread keeps its own stream.
"""
import numpy as np

from .. import rng as _rng
from ..errors import CaffeError, FormatError, fmt_shape

TRAIN = 0


def load_mean_file(path):
    """A mean binaryproto -> float32 (C, H, W) (Caffe writes a legacy 1 x C x H x W BlobProto)."""
    from ..io import read_binaryproto

    mean = np.asarray(read_binaryproto(path), dtype=np.float32)
    if mean.ndim == 4 and mean.shape[0] == 1:
        mean = mean[0]
    if mean.ndim != 3:
        raise FormatError(f"mean file '{path}': expected a 1 x C x H x W mean, got shape "
                          f"{fmt_shape(mean.shape)}")
    return mean


class DataTransformer:
    """``transform(batch)``: (N, C, H, W) uint8 or float32 -> float32 (N, C, h, w)."""

    def __init__(self, transform_param, phase, seed=None):
        p = transform_param
        self.phase = phase
        self.crop_size = int(p.crop_size)
        self.mirror = bool(p.mirror)
        self.scale = np.float32(p.scale)
        self.force_color = bool(p.force_color)
        self.force_gray = bool(p.force_gray)
        if self.force_color and self.force_gray:
            raise CaffeError("transform_param: force_color and force_gray cannot both be set")
        self.mean_file = p.mean_file if p.HasField("mean_file") else None
        self.mean_values = [float(v) for v in p.mean_value]
        if self.mean_file and self.mean_values:
            raise CaffeError("transform_param: cannot specify mean_file and mean_value "
                             "at the same time")
        self.mean = load_mean_file(self.mean_file) if self.mean_file else None
        if seed is None:
            seed = int(_rng.get_rng().integers(0, 2**63 - 1))
        self.rng = np.random.default_rng(seed)

    def infer_shape(self, chw):
        """The (C, h, w) a sample of shape ``chw`` becomes (the crop, if any)."""
        c, h, w = chw
        if self.crop_size:
            if self.crop_size > h or self.crop_size > w:
                raise CaffeError(f"transform_param: crop_size {self.crop_size} is larger than "
                                 f"the data ({c} x {h} x {w})")
            return (c, self.crop_size, self.crop_size)
        return (c, h, w)

    def _mean_for(self, c, h, w):
        """The mean as a (C, H, W) or (C, 1, 1) float32 array, shape-checked."""
        if self.mean is not None:
            from ..io import check_mean_shape

            check_mean_shape(self.mean, (c, h, w), self.mean_file)
            return self.mean
        if self.mean_values:
            if len(self.mean_values) not in (1, c):
                raise CaffeError(f"transform_param: specify either 1 mean_value or as many as "
                                 f"channels ({c}), got {len(self.mean_values)}")
            vals = self.mean_values * c if len(self.mean_values) == 1 else self.mean_values
            return np.asarray(vals, dtype=np.float32).reshape(c, 1, 1)
        return None

    def draw(self, n, h, w):
        """Per-sample (h_off, w_off, flip) for a batch of ``n`` samples of size h x w."""
        cs = self.crop_size
        flip = self.rng.integers(0, 2, size=n).astype(bool) if self.mirror else np.zeros(n, bool)
        if cs and self.phase == TRAIN:
            h_off = self.rng.integers(0, h - cs + 1, size=n)
            w_off = self.rng.integers(0, w - cs + 1, size=n)
        elif cs:
            h_off = np.full(n, (h - cs) // 2)
            w_off = np.full(n, (w - cs) // 2)
        else:
            h_off = np.zeros(n, np.int64)
            w_off = np.zeros(n, np.int64)
        return h_off, w_off, flip

    def transform(self, batch, out=None):
        batch = np.asarray(batch)
        if batch.ndim != 4:
            raise CaffeError(f"DataTransformer: expected N x C x H x W data, got {batch.shape}")
        n, c, h, w = batch.shape
        _, oh, ow = self.infer_shape((c, h, w))
        mean = self._mean_for(c, h, w)
        h_off, w_off, flip = self.draw(n, h, w)
        x = batch.astype(np.float32)
        if mean is not None and mean.shape[1:] == (h, w):
            x -= mean  # per-pixel mean: subtract before cropping == at the same offset
            mean = None
        if oh != h or ow != w or flip.any():
            rows = h_off[:, None] + np.arange(oh)  # (N, oh)
            cols = w_off[:, None] + np.arange(ow)  # (N, ow)
            cols[flip] = cols[flip, ::-1]
            x = x[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]
        if mean is not None:
            x -= mean
        x *= self.scale
        if out is not None:
            out[...] = x
            return out
        return x
