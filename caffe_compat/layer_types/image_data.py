"""ImageData layer: images listed in a text file (Caffe's ImageDataLayer).

``image_data_param`` (caffe.proto defaults): ``source`` (lines "path label", the label after
the last space), ``root_folder`` [""] (prefixed to every path), ``batch_size`` [1],
``shuffle`` [false] (shuffle at the start and at every pass), ``rand_skip`` [0],
``new_height``/``new_width`` [0] (resize when both are positive, bit for bit as OpenCV's
INTER_LINEAR: ``caffe_compat.data.cv_resize``), ``is_color`` [true] (3 BGR channels, else 1
gray channel).
``transform_param``: see ``caffe_compat.data.transformer``. Tops: ``data`` (batch_size x C x
h x w) and ``label`` (batch_size,). Loading runs ahead on a prefetch thread (depth 4).
"""
import logging

import numpy as np

from ..data.convert import read_image, read_list_file
from ..data.prefetch import Prefetcher
from ..data.transformer import DataTransformer
from ..errors import FormatError
from .. import rng as _rng
from ._prefetching import PrefetchingLayer
from .base import register

log = logging.getLogger("caffe_compat.data")
PREFETCH_DEPTH = 4


class ImageBatchReader:
    """Reads, resizes and transforms one batch of listed images; runs on the prefetch thread."""

    def __init__(self, lines, root, p, transformer, start, seed, fixed_shape, layer_name):
        self.lines, self.root, self.p = lines, root, p
        self.transformer = transformer
        self.pos = start
        self.rng = np.random.default_rng(seed)
        self.fixed_shape = fixed_shape
        self.layer_name = layer_name

    def load(self, name):
        img = read_image(self.root + name, self.p.new_height, self.p.new_width, self.p.is_color)
        if img is None:
            raise FormatError(f"Layer '{self.layer_name}': could not load image "
                              f"'{self.root + name}' (missing or corrupt)")
        return img

    def __call__(self):
        arrays, labels = [], np.empty(self.p.batch_size, dtype=np.float32)
        for i in range(self.p.batch_size):
            name, labels[i] = self.lines[self.pos]
            img = self.load(name)
            if self.fixed_shape is not None and img.shape != self.fixed_shape:
                raise FormatError(f"Layer '{self.layer_name}': image '{name}' has shape "
                                  f"{img.shape} but the others have {self.fixed_shape}")
            arrays.append(img)
            self.pos += 1
            if self.pos >= len(self.lines):
                log.info("Restarting data prefetching from start.")
                self.pos = 0
                if self.p.shuffle:
                    self.rng.shuffle(self.lines)
        return self.transformer.transform(np.stack(arrays)), labels


@register("ImageData")
class ImageDataLayer(PrefetchingLayer):
    EXACT_NUM_TOP = 2

    def setup(self, bottom, top):
        p = self.layer_param.image_data_param
        if p.batch_size <= 0:
            raise self.error(f"image_data_param.batch_size must be positive, got {p.batch_size}")
        if (p.new_height > 0) != (p.new_width > 0):
            raise self.error("image_data_param: set both new_height and new_width, or neither")
        lines = read_list_file(p.source)
        g = _rng.get_rng()
        seed = int(g.integers(0, 2**63 - 1))
        if p.shuffle:
            log.info("Shuffling data")
            order = g.permutation(len(lines))
            lines = [lines[i] for i in order]
        log.info("A total of %d images.", len(lines))
        start = 0
        if p.rand_skip:
            start = int(g.integers(0, 2**32)) % int(p.rand_skip)
            log.info("Skipping first %d data points.", start)
            if start >= len(lines):
                raise self.error(f"rand_skip skipped {start} of only {len(lines)} images")
        self.transformer = DataTransformer(self.layer_param.transform_param, self.phase)
        reader = ImageBatchReader(lines, p.root_folder, p, self.transformer, start, seed,
                                  None, self.name)
        first = reader.load(lines[start][0])
        self.transformer._mean_for(*first.shape)  # a mean that does not fit fails at setup
        reader.fixed_shape = None if p.batch_size == 1 else first.shape
        out_shape = (int(p.batch_size),) + self.transformer.infer_shape(first.shape)
        log.info("output data size: %s", ",".join(str(d) for d in out_shape))
        top[0].reshape(out_shape)
        top[1].reshape(int(p.batch_size))
        self.prefetcher = Prefetcher(reader, PREFETCH_DEPTH, name=f"imagedata:{self.name}")
