"""OpenCV's ``cv::resize(..., INTER_LINEAR)`` on 8-bit images, bit for bit, in numpy.

Caffe's ReadImageToCVMat resizes with ``cv::resize(img, out, cv::Size(w, h))`` (the default
INTER_LINEAR). The facts reproduced here were checked against real Caffe 1.0 / OpenCV 4.5
output (tests/tools/record_cv_resize.py; 744 random cases of sizes 1 to 97, gray
and BGR, all equal):

* Mapping, per axis: ``scale = 1 / (dst / src)`` (double), ``f = float32((d + 0.5) * scale
  - 0.5)``, ``s = floor(f)``, ``f -= s``. Columns: ``s < 0`` gives ``s = 0, f = 0``;
  ``s >= src - 1`` gives ``s = src - 1, f = 0``. Rows keep ``f``; the two rows read,
  ``s`` and ``s + 1``, are clamped into ``[0, src - 1]`` (clamping the row weights like
  the columns' would change pixels at the top and bottom edges).
* Weights are 11-bit fixed point: ``round_half_even((1 - f) * 2048)`` and
  ``round_half_even(f * 2048)``, with ``1 - f`` computed in float32.
* Horizontal pass: exact ints ``src[s] * a0 + src[s + 1] * a1`` per channel.
* Vertical pass, every value of every row (OpenCV's 8u vertical pass works on 16-bit lanes,
  and its scalar tail repeats the same steps):
  ``((((r0 >> 4) * b0) >> 16) + (((r1 >> 4) * b1) >> 16) + 2) >> 2``. Each product is floored
  on its own, so this is not ``(r0 * b0 + r1 * b1 + (1 << 21)) >> 22``: the plain 22-bit
  rounding differs from OpenCV in most images by 1 in some pixels.
* Same size: a plain copy (the formulas above give the same pixels). An exact 2x
  downscale goes through OpenCV's area path, ``(a + b + c + d + 2) >> 2``, which the
  formulas above also give.
"""
import numpy as np

COEF_BITS = 11
COEF_SCALE = 1 << COEF_BITS  # INTER_RESIZE_COEF_SCALE


def _axis(src, dst, clamp_weights):
    """Source indices (s0, s1) and fixed-point weights (w0, w1) for one axis."""
    scale = 1.0 / (dst / src)  # OpenCV keeps the inverse of dst/src, not src/dst
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        low, high = s < 0, s >= src - 1
        f[low | high] = 0
        s[low] = 0
        s[high] = src - 1
    w0 = np.rint((np.float32(1) - f) * np.float32(COEF_SCALE)).astype(np.int64)
    w1 = np.rint(f * np.float32(COEF_SCALE)).astype(np.int64)
    s0 = np.clip(s, 0, src - 1)
    s1 = np.clip(s + 1, 0, src - 1)
    return s0, s1, w0, w1


def resize_linear(img, height, width):
    """uint8 (H, W) or (H, W, C) -> uint8 (height, width[, C]) as cv::resize INTER_LINEAR."""
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"resize_linear needs a uint8 (H, W) or (H, W, C) array, got "
                         f"{img.dtype} {img.shape}")
    if height <= 0 or width <= 0:
        raise ValueError(f"resize_linear: bad destination size {height} x {width}")
    src = img if img.ndim == 3 else img[:, :, None]
    src_h, src_w, channels = src.shape
    if (src_h, src_w) == (height, width):
        return img.copy()
    x0, x1, a0, a1 = _axis(src_w, width, clamp_weights=True)
    y0, y1, b0, b1 = _axis(src_h, height, clamp_weights=False)
    pixels = src.astype(np.int64)
    horizontal = pixels[:, x0] * a0[None, :, None] + pixels[:, x1] * a1[None, :, None]
    rows = horizontal.reshape(src_h, width * channels)
    r0, r1 = rows[y0], rows[y1]  # (height, width * channels)
    # OpenCV drops 4 bits to fit 16-bit lanes, keeps the high half of each 16 x 16-bit
    # product, then rounds off the last 2 bits.
    top = ((r0 >> 4) * b0[:, None]) >> 16
    bottom = ((r1 >> 4) * b1[:, None]) >> 16
    out = (top + bottom + 2) >> 2
    out = np.clip(out, 0, 255).astype(np.uint8).reshape(height, width, channels)
    return out if img.ndim == 3 else out[:, :, 0]
