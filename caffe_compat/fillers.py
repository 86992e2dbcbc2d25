"""Fillers: initial values of parameter blobs, with Caffe's semantics (filler.hpp).

``fill(filler_param, shape)`` returns a float32 array drawn from ``caffe_compat.rng``, so a
run with a fixed ``random_seed`` is reproducible. Fan sizes follow Caffe:
``fan_in = count / shape[0]``, ``fan_out = count / shape[1]`` (``count`` for 1-axis blobs).

=================  ==================================================================
type               values
=================  ==================================================================
constant           ``value`` (default 0)
uniform            U(``min``, ``max``), defaults 0, 1
gaussian           N(``mean``, ``std``^2), defaults 0, 1; with ``sparse`` >= 0 each value
                   is kept with probability ``sparse / shape[0]`` and zeroed otherwise
positive_unitball  U(0, 1), then each of the ``shape[0]`` rows divided by its sum
xavier             U(-s, s), s = sqrt(3 / n)
msra               N(0, 2 / n)
bilinear           the bilinear-upsampling kernel (4-D, square spatial dims)
=================  ==================================================================

For xavier and msra, n = fan_in (``variance_norm: FAN_IN``, the default), fan_out
(``FAN_OUT``) or (fan_in + fan_out) / 2 (``AVERAGE``).
"""
import math

import numpy as np

from . import rng as _rng
from .errors import CaffeError

_FAN_IN, _FAN_OUT, _AVERAGE = 0, 1, 2  # FillerParameter.VarianceNorm


def _fans(shape):
    count = int(np.prod(shape, dtype=np.int64))
    if len(shape) == 0 or shape[0] == 0:
        raise CaffeError(f"filler: cannot compute fan sizes of a blob of shape {tuple(shape)}")
    fan_in = count // shape[0]
    fan_out = count // shape[1] if len(shape) > 1 else count
    return fan_in, fan_out


def _norm_n(filler_param, shape):
    fan_in, fan_out = _fans(shape)
    vn = filler_param.variance_norm
    if vn == _FAN_OUT:
        return float(fan_out)
    if vn == _AVERAGE:
        return (fan_in + fan_out) / 2.0
    return float(fan_in)


def fill(filler_param, shape):
    """A new float32 array of ``shape`` filled as ``filler_param`` (a FillerParameter) says."""
    shape = tuple(int(d) for d in shape)
    g = _rng.get_rng()
    kind = filler_param.type
    if filler_param.sparse >= 0 and kind != "gaussian":
        # Caffe's other fillers CHECK that sparse is unset ("Sparsity not supported").
        raise CaffeError(f"{kind} filler: 'sparse' is only supported by the gaussian filler")
    if kind == "constant":
        return np.full(shape, filler_param.value, dtype=np.float32)
    if kind == "uniform":
        lo, hi = filler_param.min, filler_param.max
        return g.uniform(lo, hi, size=shape).astype(np.float32)
    if kind == "gaussian":
        out = g.normal(filler_param.mean, filler_param.std, size=shape).astype(np.float32)
        if filler_param.sparse >= 0:
            if len(shape) < 1 or shape[0] == 0:
                raise CaffeError("gaussian filler with sparse needs a blob with a first axis")
            p = filler_param.sparse / shape[0]
            out *= (g.random(size=shape) < p).astype(np.float32)
        return out
    if kind == "positive_unitball":
        out = g.uniform(0.0, 1.0, size=shape).astype(np.float32)
        rows = out.reshape(shape[0], -1)
        rows /= rows.sum(axis=1, keepdims=True)
        return out
    if kind == "xavier":
        scale = math.sqrt(3.0 / _norm_n(filler_param, shape))
        return g.uniform(-scale, scale, size=shape).astype(np.float32)
    if kind == "msra":
        std = math.sqrt(2.0 / _norm_n(filler_param, shape))
        return g.normal(0.0, std, size=shape).astype(np.float32)
    if kind == "bilinear":
        if len(shape) != 4 or shape[2] != shape[3]:
            raise CaffeError(f"bilinear filler needs a 4-D blob with height == width, got {shape}")
        width = shape[3]
        f = math.ceil(width / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        y, x = np.meshgrid(np.arange(width), np.arange(width), indexing="ij")
        kernel = (1 - np.abs(x / f - c)) * (1 - np.abs(y / f - c))
        return np.broadcast_to(kernel, shape).astype(np.float32).copy()
    raise CaffeError(
        f"unknown filler type '{kind}' (known: constant, uniform, gaussian, "
        "positive_unitball, xavier, msra, bilinear)"
    )
