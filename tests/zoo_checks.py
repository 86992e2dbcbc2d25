"""Seeded arrays and compact checks shared by the model-zoo recorder and tests.

Pure numpy (it also runs under real Caffe's python3 in the chroot, numpy 1.19), so both
sides draw the same numbers: ``np.random.RandomState`` streams are fixed across numpy
versions.

- ``param_array``: the seeded weights of one parameter blob, scaled by the layer type so
  that activations stay finite through 150-layer nets (fan-in scaled gaussians for
  Convolution / InnerProduct / Deconvolution, positive variances and a 1.0 moving-average
  factor for BatchNorm, slopes near 0.25 for PReLU, small gaussians elsewhere).
- ``input_array`` / ``top_diff``: the seeded net inputs (gaussian, or integer labels) and
  the seeded diffs set on the non-loss outputs before Backward.
- ``stats``: per array: sum, sum of squares, max |x| and four seeded random projections,
  which catch any element that differs by more than float32 order without
  storing the blob. ``compare`` checks two such records with a tolerance relative to the
  reference blob's norm.
"""
import zlib

import numpy as np

SEED = 20170101
N_PROJ = 4
_PROJ_LEN = 1 << 18
_CYCLE = 1_000_003  # a prime: cycled weights never repeat along a row of a weight matrix
_proj = None
_base = None


def _rng(*key):
    return np.random.RandomState(zlib.crc32("/".join(str(k) for k in (SEED,) + key).encode()))


def _gaussian_cycle(key, count):
    """``count`` standard normal values: a seeded cycle of 1,000,003 values read from a
    seeded offset (drawing 140M fresh normals per VGG would dominate the tests' time)."""
    global _base
    if _base is None:
        z = _rng("weights").standard_normal(_CYCLE).astype(np.float32)
        _base = np.concatenate([z, z])
    start = int(_rng(*key).randint(0, _CYCLE))
    return np.resize(_base[start:start + _CYCLE], count)


def param_array(net_name, key, layer_type, index, shape):
    """Seeded float32 values of one parameter blob (``key``: its share name or layer/index)."""
    shape = tuple(int(d) for d in shape)
    count = int(np.prod(shape)) if shape else 1
    z = _gaussian_cycle((net_name, "param", key), count).reshape(shape)
    if layer_type in ("Convolution", "InnerProduct", "Embed") and index == 0:
        fan_in = count // shape[0] if layer_type != "Embed" else 1
        z = z * np.float32(1 / np.sqrt(max(fan_in, 1)))
    elif layer_type == "Deconvolution" and index == 0:
        # weights (C_in, C_out/group, kh, kw): each output sums C_in * kh * kw / stride^2 terms
        z = z * np.float32(1 / np.sqrt(max(count // shape[1] // 4, 1)))
    elif layer_type == "BatchNorm":
        z = [0.1 * z, 0.5 + np.abs(z), np.ones_like(z)][index]
    elif layer_type == "Scale" and index == 0:
        z = 1.0 + 0.1 * z
    elif layer_type == "PReLU":
        z = 0.25 + 0.05 * z
    else:
        z = 0.1 * z
    return np.asarray(z, dtype=np.float32)


def input_array(net_name, blob, shape, kind=None):
    """Seeded input: gaussian, ``("labels", k)``: integers in [0, k) as floats, or
    ``("uniform",)``: values in [0, 1)."""
    shape = tuple(int(d) for d in shape)
    r = _rng(net_name, "input", blob)
    if kind is not None and kind[0] == "labels":
        return r.randint(0, kind[1], size=shape).astype(np.float32)
    if kind is not None and kind[0] == "uniform":
        return r.random_sample(shape).astype(np.float32)
    return r.standard_normal(shape).astype(np.float32)


def top_diff(net_name, blob, shape):
    return _rng(net_name, "diff", blob).standard_normal(tuple(int(d) for d in shape)).astype(np.float32)


def _projections():
    global _proj
    if _proj is None:
        _proj = _rng("projections").standard_normal((_PROJ_LEN, N_PROJ)).astype(np.float32)
    return _proj


def stats(arr):
    """[sum, sum of squares, max |x|, projection 1..4] of ``arr``.

    Float32 products summed in float64 per 2**18-element chunk (BLAS, no float64 copy of
    the blob): two BLAS builds agree within about 1e-5 of the norm (1.2e-5 measured on a
    307,200-value weight), ten times under the forward tolerance."""
    x = np.ascontiguousarray(arr, dtype=np.float32).ravel()
    n = x.size
    if n == 0:
        return [0.0] * (3 + N_PROJ)
    full = n // _PROJ_LEN
    proj = np.zeros(N_PROJ)
    if full:
        proj += (x[:full * _PROJ_LEN].reshape(full, _PROJ_LEN) @ _projections()).astype(np.float64).sum(axis=0)
    rest = x[full * _PROJ_LEN:]
    if rest.size:
        proj += rest.astype(np.float64) @ _projections()[:rest.size].astype(np.float64)
    total = float(np.sum(x, dtype=np.float64))
    squares = float(sum(float(np.dot(c, c)) for c in np.array_split(x, max(1, n // _PROJ_LEN))))
    return [total, squares, float(max(x.max(), -x.min()))] + [float(p) for p in proj]


def rounded(values, digits=9):
    return [float(f"{v:.{digits}g}") for v in values]


def compare(ours, ref, rtol):
    """Why ``ours`` (stats) is not ``ref`` (stats) within ``rtol`` of the reference norm, or None.

    Each projection and the max differ by at most ``rtol * ||ref||`` (a projection on a
    gaussian vector moves by about ||error||); the sum by ``rtol * ||ref|| * sqrt(n)``
    is implied by the projections and not checked; the sum of squares by ``3 rtol ||ref||^2``.
    """
    norm = np.sqrt(max(ref[1], 0.0))
    scale = rtol * norm + 1e-30
    worst = 0.0
    for k in range(N_PROJ):
        worst = max(worst, abs(ours[3 + k] - ref[3 + k]))
    worst = max(worst, abs(ours[2] - ref[2]))
    if worst > scale or abs(ours[1] - ref[1]) > 3 * rtol * ref[1] + 1e-30:
        return (f"projections/max differ by {worst:.3g} = {worst / (norm + 1e-30):.3g} x the norm "
                f"{norm:.4g} (allowed {rtol:g}); sum of squares {ours[1]:.6g} vs {ref[1]:.6g}")
    return None


def relative_error(ours, ref):
    """The largest projection/max difference over the reference norm (for reporting)."""
    norm = np.sqrt(max(ref[1], 0.0))
    worst = max([abs(ours[3 + k] - ref[3 + k]) for k in range(N_PROJ)] + [abs(ours[2] - ref[2])])
    if norm == 0:
        return 0.0 if worst == 0 else float("inf")
    return worst / norm
