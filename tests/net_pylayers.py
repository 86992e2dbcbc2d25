"""Small Python layers (pycaffe style) used by test_net.py to exercise the Net on its own.

They are written against ``caffe_compat.Layer`` exactly as a 2017 pycaffe user would write
them against ``caffe.Layer``.
"""
import numpy as np

import caffe_compat as caffe


class Scale(caffe.Layer):
    """y = x * w, w a learnable parameter of shape x.shape[1:] (filled from param_str seed)."""

    def setup(self, bottom, top):
        seed = int(self.param_str or 0)
        self.blobs.add_blob(*bottom[0].shape[1:])
        self.blobs[0].data[...] = np.random.default_rng(seed).uniform(0.5, 1.5, bottom[0].shape[1:])

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * self.blobs[0].data

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] += (top[0].diff * bottom[0].data).sum(axis=0)
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * self.blobs[0].data


class Double(caffe.Layer):
    """y = 2 x; works in place."""

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = 2 * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = 2 * top[0].diff


class HalfSquare(caffe.Layer):
    """Scalar 0.5 * sum(x^2); a loss only where loss_weight is given (as Caffe's Python layers)."""

    def reshape(self, bottom, top):
        top[0].reshape()

    def forward(self, bottom, top):
        top[0].data[...] = 0.5 * np.sum(bottom[0].data ** 2)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * bottom[0].data


class HalfSquareLoss(HalfSquare):
    """The same with IS_LOSS: implicitly weighted 1, as Caffe's LossLayer subclasses."""

    IS_LOSS = True


class DotLabelLoss(caffe.Layer):
    """Scalar sum(x * label); like Caffe's losses it cannot back-propagate to bottom 1."""

    IS_LOSS = True

    def allow_force_backward(self, bottom_index):
        return bottom_index != 1

    def reshape(self, bottom, top):
        top[0].reshape()

    def forward(self, bottom, top):
        top[0].data[...] = np.sum(bottom[0].data * bottom[1].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down[1]:
            raise RuntimeError("the Net should have refused this backward")
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * bottom[1].data


class NotALayer:
    pass
