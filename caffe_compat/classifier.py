"""pycaffe's Classifier: a TEST-phase Net that takes H x W x K images (floats) and returns
class scores of its first output.

``Classifier(model_file, pretrained_file, image_dims=None, mean=None, input_scale=None,
raw_scale=None, channel_swap=None)``: the input is transposed to K x H x W and preprocessed by
a ``caffe.io.Transformer`` with the given options. ``predict(images, oversample=True)`` resizes
each image to ``image_dims`` (default: the input's H x W), then either takes the 10 crops of
``oversample`` and averages their predictions per image, or the centre crop only.
"""
import numpy as np

from .io_image import oversample as _oversample, resize_image
from .io_transformer import Transformer
from .net import TEST, Net


def _transformer_for(net, mean, input_scale, raw_scale, channel_swap):
    name = net.inputs[0]
    transformer = Transformer({name: net.blobs[name].data.shape})
    transformer.set_transpose(name, (2, 0, 1))
    if mean is not None:
        transformer.set_mean(name, mean)
    if input_scale is not None:
        transformer.set_input_scale(name, input_scale)
    if raw_scale is not None:
        transformer.set_raw_scale(name, raw_scale)
    if channel_swap is not None:
        transformer.set_channel_swap(name, channel_swap)
    return transformer


class Classifier(Net):
    def __init__(self, model_file, pretrained_file, image_dims=None, mean=None, input_scale=None,
                 raw_scale=None, channel_swap=None):
        Net.__init__(self, model_file, TEST, weights=pretrained_file)
        self.transformer = _transformer_for(self, mean, input_scale, raw_scale, channel_swap)
        self.crop_dims = np.array(self.blobs[self.inputs[0]].data.shape[2:])
        if image_dims is None or not len(image_dims):
            image_dims = self.crop_dims
        self.image_dims = image_dims

    def predict(self, inputs, oversample=True):
        """(N x C) predictions of the first output for N images."""
        images = np.zeros((len(inputs), self.image_dims[0], self.image_dims[1], inputs[0].shape[2]),
                          dtype=np.float32)
        for i, image in enumerate(inputs):
            images[i] = resize_image(image, self.image_dims)
        if oversample:
            images = _oversample(images, self.crop_dims)
        else:
            center = np.array(self.image_dims) / 2.0
            box = (np.tile(center, 2) + np.concatenate([-self.crop_dims / 2.0,
                                                        self.crop_dims / 2.0])).astype(int)
            images = images[:, box[0]:box[2], box[1]:box[3], :]
        name = self.inputs[0]
        caffe_in = np.zeros((images.shape[0], images.shape[3], images.shape[1], images.shape[2]),
                            dtype=np.float32)
        for i, image in enumerate(images):
            caffe_in[i] = self.transformer.preprocess(name, image)
        predictions = self.forward_all(**{name: caffe_in})[self.outputs[0]]
        if oversample:
            predictions = predictions.reshape((len(predictions) // 10, 10, -1)).mean(1)
        return predictions
