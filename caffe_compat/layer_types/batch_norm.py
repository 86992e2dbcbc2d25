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
from ..parallel import over_batch
from ._workspace import Workspace
from .base import Layer, register
from .bias import sum_outer_inner

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
        self.ws = Workspace()
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
        y = self._stat_view(top[0].data)  # may be x (in place): every pass is elementwise
        xp = get_array_module(x)
        dtype = x.dtype
        n, c, s = x.shape
        m = n * s
        if self.use_global_stats:
            factor = self.blobs[2].data[0]
            inv = 0.0 if factor == 0 else 1.0 / factor
            mean = (self.blobs[0].data * dtype.type(inv)).astype(dtype)
            var = (self.blobs[1].data * dtype.type(inv)).astype(dtype)
        else:
            mean = sum_outer_inner(x, x.shape) / dtype.type(m)
        mean3 = mean.reshape(1, c, 1)
        over_batch(lambda lo, hi: xp.subtract(x[lo:hi], mean3, out=y[lo:hi]), n, y.size)
        if not self.use_global_stats:
            sq = self.ws.get("sq", y.shape, dtype)
            over_batch(lambda lo, hi: xp.multiply(y[lo:hi], y[lo:hi], out=sq[lo:hi]), n, y.size)
            var = sum_outer_inner(sq, sq.shape) / dtype.type(m)
            # Moving sums, updated in place so views of the parameter blobs stay valid.
            maf = self.maf
            self.blobs[2].data *= maf
            self.blobs[2].data += 1
            self.blobs[0].data[...] = maf * self.blobs[0].data + mean
            correction = m / (m - 1) if m > 1 else 1.0
            self.blobs[1].data[...] = maf * self.blobs[1].data + correction * var
        self.std = xp.sqrt(var + dtype.type(self.eps)).astype(dtype, copy=False)
        std3 = self.std.reshape(1, c, 1)
        # Normalised values kept for backward (the top may be overwritten in place later).
        self.x_norm = None if self.use_global_stats else self.ws.get("x_norm", y.shape, dtype)

        def normalise(lo, hi):
            y[lo:hi] /= std3
            if self.x_norm is not None:
                self.x_norm[lo:hi] = y[lo:hi]

        over_batch(normalise, n, y.size)

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = self._stat_view(top[0].diff)
        dx = self._stat_view(bottom[0].diff)  # may be dy (in place): sums are taken first
        xp = get_array_module(dy)
        n, c, s = dy.shape
        std3 = self.std.reshape(1, c, 1)
        if self.use_global_stats:
            over_batch(lambda lo, hi: xp.divide(dy[lo:hi], std3, out=dx[lo:hi]), n, dy.size)
            return
        # dx = (dy - mean(dy) - mean(dy * y) * y) / std, means over num and spatial.
        y = self.x_norm
        m = dy.dtype.type(n * s)
        work = self.ws.get("work", dy.shape, dy.dtype)
        over_batch(lambda lo, hi: xp.multiply(dy[lo:hi], y[lo:hi], out=work[lo:hi]), n, dy.size)
        mean_dy_y = (sum_outer_inner(work, work.shape) / m).reshape(1, c, 1)
        mean_dy = (sum_outer_inner(dy, dy.shape) / m).reshape(1, c, 1)

        def images(lo, hi):
            t = work[lo:hi]
            xp.multiply(y[lo:hi], mean_dy_y, out=t)
            t += mean_dy
            xp.subtract(dy[lo:hi], t, out=dx[lo:hi])
            dx[lo:hi] /= std3

        over_batch(images, n, dy.size)
