"""pycaffe's ``caffe.io.Transformer``: images (H x W x K, floats in [0, 1]) to net input.

``Transformer({input name: blob shape (N, K, H, W)})``; per input one may set a transpose
(``(2, 0, 1)``: H x W x K to K x H x W), a channel order (``(2, 1, 0)``: RGB to BGR), a raw
scale (``255``), a mean (per channel or K x H x W, resized to the input when its size
differs) and an input scale. ``preprocess`` applies, in this order: float32, resize to the
input's H x W (``resize_image``) when the image's first two axes differ, transpose, channel
order, ``* raw_scale``, ``- mean``, ``* input_scale``; ``deprocess`` undoes them in reverse
(after squeezing the array). Asking for a name that is not an input raises.
"""
import numpy as np

from .io_image import resize_image


class Transformer:
    def __init__(self, inputs):
        self.inputs = inputs
        self.transpose = {}
        self.channel_swap = {}
        self.raw_scale = {}
        self.mean = {}
        self.input_scale = {}

    def _check_input(self, in_):
        if in_ not in self.inputs:
            raise Exception(f"{in_} is not one of the net inputs: {self.inputs}")

    def preprocess(self, in_, data):
        self._check_input(in_)
        caffe_in = np.asarray(data).astype(np.float32, copy=False)
        in_dims = tuple(self.inputs[in_][2:])
        if tuple(caffe_in.shape[:2]) != in_dims:
            caffe_in = resize_image(caffe_in, in_dims)
        if self.transpose.get(in_) is not None:
            caffe_in = caffe_in.transpose(self.transpose[in_])
        if self.channel_swap.get(in_) is not None:
            caffe_in = caffe_in[list(self.channel_swap[in_]), :, :]
        if self.raw_scale.get(in_) is not None:
            caffe_in *= self.raw_scale[in_]
        if self.mean.get(in_) is not None:
            caffe_in -= self.mean[in_]
        if self.input_scale.get(in_) is not None:
            caffe_in *= self.input_scale[in_]
        return caffe_in

    def deprocess(self, in_, data):
        self._check_input(in_)
        out = np.array(data, copy=True).squeeze()
        if self.input_scale.get(in_) is not None:
            out /= self.input_scale[in_]
        if self.mean.get(in_) is not None:
            out += self.mean[in_]
        if self.raw_scale.get(in_) is not None:
            out /= self.raw_scale[in_]
        if self.channel_swap.get(in_) is not None:
            out = out[np.argsort(self.channel_swap[in_]), :, :]
        if self.transpose.get(in_) is not None:
            out = out.transpose(np.argsort(self.transpose[in_]))
        return out

    def set_transpose(self, in_, order):
        self._check_input(in_)
        if len(order) != len(self.inputs[in_]) - 1:
            raise Exception("Transpose order needs to have the same number of dimensions as the input.")
        self.transpose[in_] = order

    def set_channel_swap(self, in_, order):
        self._check_input(in_)
        if len(order) != self.inputs[in_][1]:
            raise Exception("Channel swap needs to have the same number of dimensions as the input channels.")
        self.channel_swap[in_] = order

    def set_raw_scale(self, in_, scale):
        self._check_input(in_)
        self.raw_scale[in_] = scale

    def set_mean(self, in_, mean):
        self._check_input(in_)
        mean = np.asarray(mean)
        if mean.ndim == 1:
            if mean.shape[0] != self.inputs[in_][1]:
                raise ValueError("Mean channels incompatible with input.")
            mean = mean[:, np.newaxis, np.newaxis]
        else:
            shape = mean.shape if mean.ndim != 2 else (1,) + mean.shape
            if len(shape) != 3:
                raise ValueError("Mean shape invalid")
            want = tuple(self.inputs[in_][1:])
            if shape != want:
                low, high = mean.min(), mean.max()
                unit = (mean - low) / (high - low)
                mean = resize_image(unit.transpose((1, 2, 0)), want[1:]).transpose((2, 0, 1)) * (high - low) + low
        self.mean[in_] = mean

    def set_input_scale(self, in_, scale):
        self._check_input(in_)
        self.input_scale[in_] = scale
