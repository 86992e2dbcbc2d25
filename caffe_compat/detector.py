"""pycaffe's Detector: a TEST-phase Net that scores windows of images (R-CNN style).

``Detector(model_file, pretrained_file, mean=None, input_scale=None, raw_scale=None,
channel_swap=None, context_pad=None)``. ``detect_windows([(image file, [window, ...]), ...])``
crops each window ``(ymin, xmin, ymax, xmax)``, warps it to the input size, and returns
``[{"window", "prediction", "filename"}, ...]`` with the first output's scores. With
``context_pad`` the crop is widened so that a ``context_pad``-pixel border of the net input is
context (R-CNN), the part outside the image filled with the mean.
``detect_selective_search`` needs the external ``selective_search_ijcv_with_python`` module.
"""
import os

import numpy as np

from .classifier import _transformer_for
from .io_image import load_image, resize_image
from .net import TEST, Net


class Detector(Net):
    def __init__(self, model_file, pretrained_file, mean=None, input_scale=None, raw_scale=None,
                 channel_swap=None, context_pad=None):
        Net.__init__(self, model_file, TEST, weights=pretrained_file)
        self.transformer = _transformer_for(self, mean, input_scale, raw_scale, channel_swap)
        self.configure_crop(context_pad)

    def detect_windows(self, images_windows):
        images_windows = list(images_windows)
        crops = []
        for filename, windows in images_windows:
            image = load_image(filename).astype(np.float32)
            crops.extend(self.crop(image, window) for window in windows)
        name = self.inputs[0]
        caffe_in = np.zeros((len(crops), crops[0].shape[2]) + tuple(self.blobs[name].data.shape[2:]),
                            dtype=np.float32)
        for i, crop in enumerate(crops):
            caffe_in[i] = self.transformer.preprocess(name, crop)
        predictions = self.forward_all(**{name: caffe_in})[self.outputs[0]]
        detections, i = [], 0
        for filename, windows in images_windows:
            for window in windows:
                detections.append({"window": window, "prediction": predictions[i], "filename": filename})
                i += 1
        return detections

    def detect_selective_search(self, image_fnames):
        import selective_search_ijcv_with_python as selective_search

        image_fnames = [os.path.abspath(f) for f in image_fnames]
        windows = selective_search.get_windows(image_fnames, cmd="selective_search_rcnn")
        return self.detect_windows(zip(image_fnames, windows))

    def crop(self, im, window):
        window = np.asarray(window)
        crop = im[window[0]:window[2], window[1]:window[3]]
        if not self.context_pad:
            return crop
        crop_size = self.blobs[self.inputs[0]].width  # square inputs, as pycaffe assumes
        scale = crop_size / (1.0 * crop_size - self.context_pad * 2)
        half_h = (window[2] - window[0] + 1) / 2.0
        half_w = (window[3] - window[1] + 1) / 2.0
        center = (window[0] + half_h, window[1] + half_w)
        box = np.round(np.tile(center, 2) + scale * np.array((-half_h, -half_w, half_h, half_w)))
        scale_h = crop_size / (box[2] - box[0] + 1)
        scale_w = crop_size / (box[3] - box[1] + 1)
        pad_y = int(round(max(0, -box[0]) * scale_h))
        pad_x = int(round(max(0, -box[1]) * scale_w))
        im_h, im_w = im.shape[:2]
        box = np.clip(box, 0.0, [im_h, im_w, im_h, im_w])
        clip_h, clip_w = box[2] - box[0] + 1, box[3] - box[1] + 1
        if not (clip_h > 0 and clip_w > 0):
            raise ValueError(f"window {tuple(window)} lies outside the {im_h} x {im_w} image")
        crop_h = min(int(round(clip_h * scale_h)), crop_size - pad_y)
        crop_w = min(int(round(clip_w * scale_w)), crop_size - pad_x)
        box = box.astype(int)
        context = resize_image(im[box[0]:box[2], box[1]:box[3]], (crop_h, crop_w))
        out = np.ones(self.crop_dims, dtype=np.float32) * self.crop_mean
        out[pad_y:pad_y + crop_h, pad_x:pad_x + crop_w] = context
        return out

    def configure_crop(self, context_pad):
        name = self.inputs[0]
        transpose = self.transformer.transpose[name]
        inverse = [transpose[t] for t in transpose]
        self.crop_dims = np.array(self.blobs[name].data.shape[1:])[inverse]
        self.context_pad = context_pad
        if not context_pad:
            return
        channel_order = self.transformer.channel_swap.get(name)
        raw_scale = self.transformer.raw_scale.get(name)
        mean = self.transformer.mean.get(name)
        if mean is None:
            self.crop_mean = np.zeros(self.crop_dims, dtype=np.float32)
            return
        crop_mean = mean.copy().transpose(inverse)
        if channel_order is not None:
            order = list(channel_order)
            crop_mean = crop_mean[:, :, [order.index(i) for i in range(crop_mean.shape[2])]]
        if raw_scale is not None:
            crop_mean /= raw_scale
        self.crop_mean = crop_mean
