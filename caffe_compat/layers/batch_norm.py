"""BatchNorm: normalize each channel to zero mean and unit variance.

Statistics are taken per channel (axis 1; a 1-axis bottom is one channel) over all other
axes, ``m = count / channels`` values each::

    y = (x - mean) / sqrt(var + eps)

* ``use_global_stats: false`` (training): ``mean`` and ``var = E[(x - mean)^2]`` come from
  the batch, and Forward updates the stored statistics (Caffe's moving sums)::

      blobs[2] = maf * blobs[2] + 1
      blobs[0] = maf * blobs[0] + mean
      blobs[1] = maf * blobs[1] + m / (m - 1) * var        (factor 1 when m == 1)

  Backward: ``dx = (dy - mean(dy) - mean(dy * y) * y) / sqrt(var + eps)``.
* ``use_global_stats: true``: ``mean = blobs[0] / blobs[2]``, ``var = blobs[1] / blobs[2]``
  (both 0 when ``blobs[2]`` is 0); Backward: ``dx = dy / sqrt(var + eps)``.

Parameter blobs (all start at 0): 0 = mean sum (C,), 1 = variance sum (C,), 2 = scale
factor (1,). They are statistics, not learned: Caffe forces their ``lr_mult`` to 0 (and
refuses a prototxt ``param`` with a non-zero ``lr_mult``); ``fixed_param_lr_mult()`` tells
the Net the same, and ``setup`` adds the ``param { lr_mult: 0 }`` entries as Caffe does.

caffe.proto defaults (BatchNormParameter): ``use_global_stats`` = (phase == TEST) when
unset, ``moving_average_fraction: 0.999``, ``eps: 1e-5``.
"""

from ..backend import get_array_module
from ..blob import Blob
from .base import Layer, register

TEST = 1


@register("BatchNorm")
class BatchNormLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    @classmethod
    def fixed_param_lr_mult(cls):
        """All parameter blobs are statistics: the Net/solver must treat lr_mult as 0."""
        return True

    def setup(self, bottom, top):
        p = self.layer_param.batch_norm_param
        self.maf = float(p.moving_average_fraction)
        self.use_global_stats = (p.use_global_stats if p.HasField("use_global_stats")
                                 else self.phase == TEST)
        self.eps = float(p.eps)
        self.channels = 1 if bottom[0].num_axes == 1 else bottom[0].shape[1]
        if not self.blobs:
            c = self.channels
            self.blobs = [Blob((c,)), Blob((c,)), Blob((1,))]
        for i in range(len(self.blobs)):
            if len(self.layer_param.param) == i:
                self.layer_param.param.add(lr_mult=0.0)
            elif self.layer_param.param[i].lr_mult != 0:
                raise self.error("cannot configure batch normalization statistics as layer "
                                 f"parameters (param {i} has lr_mult "
                                 f"{self.layer_param.param[i].lr_mult}; it must be 0)")

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) >= 2 and shape[1] != self.channels:
            raise self.error(f"bottom has {shape[1]} channels, the layer was set up for "
                             f"{self.channels}", bottom0=shape)
        top[0].reshape(shape)

    def _stat_view(self, x):
        """x as (num, channels, spatial)."""
        return x.reshape(x.shape[0] if x.ndim else 1, self.channels, -1)

    def forward(self, bottom, top):
        x = self._stat_view(bottom[0].data)
        xp = get_array_module(x)
        dtype = x.dtype
        if self.use_global_stats:
            factor = self.blobs[2].data[0]
            inv = 0.0 if factor == 0 else 1.0 / factor
            mean = (self.blobs[0].data * dtype.type(inv)).astype(dtype)
            var = (self.blobs[1].data * dtype.type(inv)).astype(dtype)
        else:
            m = x.shape[0] * x.shape[2]
            mean = x.sum(axis=(0, 2)) / dtype.type(m)
        centered = x - mean[None, :, None]
        if not self.use_global_stats:
            var = (centered * centered).sum(axis=(0, 2)) / dtype.type(m)
            # Moving sums, updated in place so views of the parameter blobs stay valid.
            maf = self.maf
            self.blobs[2].data *= maf
            self.blobs[2].data += 1
            self.blobs[0].data[...] = maf * self.blobs[0].data + mean
            correction = m / (m - 1) if m > 1 else 1.0
            self.blobs[1].data[...] = maf * self.blobs[1].data + correction * var
        self.std = xp.sqrt(var + dtype.type(self.eps))
        y = centered / self.std[None, :, None]
        self.x_norm = y
        top[0].data[...] = y.reshape(top[0].shape)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = self._stat_view(top[0].diff).copy()  # copy: top may be bottom (in place)
        std = self.std[None, :, None]
        if self.use_global_stats:
            dx = dy / std
        else:
            y = self.x_norm
            m = y.shape[0] * y.shape[2]
            mean_dy = dy.sum(axis=(0, 2), keepdims=True) / m
            mean_dy_y = (dy * y).sum(axis=(0, 2), keepdims=True) / m
            dx = (dy - mean_dy - mean_dy_y * y) / std
        bottom[0].diff[...] = dx.reshape(bottom[0].shape)
