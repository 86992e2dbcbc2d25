"""pycaffe's ``caffe.io`` image helpers: ``load_image``, ``resize_image``, ``oversample``.

pycaffe 1.0 read and resized images with scikit-image 0.18; the same arithmetic here with
Pillow and scipy:

- ``load_image(filename, color=True)``: float32 in [0, 1] (8-bit values / 255, 16-bit / 65535),
  H x W x 3 RGB (a grey image repeated, alpha dropped) or, with ``color=False``, H x W x 1
  (colour converted as scikit-image's rgb2gray: 0.2125 R + 0.7154 G + 0.0721 B, an alpha
  channel first blended over white as its rgba2rgb);
- ``resize_image(im, (h, w), interp_order=1)``: for 1 or 3 channels, values stretched to [0, 1],
  anti-aliased when shrinking (Gaussian, sigma ``max(0, (in/out - 1) / 2)`` per axis, zeros
  outside), sampled at ``in/out * (y + 0.5) - 0.5`` with zeros beyond the edge (bilinear for
  order 1), clipped to the filtered range and stretched back; other channel counts go through
  ``scipy.ndimage.zoom``. Always float32.
- ``oversample(images, (h, w))``: per image the four corner crops and the centre crop, then the
  same five mirrored left-right: 10 crops per image.
"""
import numpy as np

_GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])


def load_image(filename, color=True):
    from PIL import Image

    with Image.open(filename) as image:
        image.load()
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            img = np.asarray(image, dtype=np.float64) / 65535.0
        else:
            if image.mode not in ("L", "RGB", "RGBA", "LA"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            img = np.asarray(image, dtype=np.float64) / 255.0
    if img.ndim == 3 and img.shape[2] == 2:  # grey + alpha
        img = img[:, :, 0]
    if not color and img.ndim == 3:
        if img.shape[2] == 4:  # scikit-image's rgba2rgb: over a white background
            alpha = img[:, :, 3:]
            img = np.clip((1 - alpha) + alpha * img[:, :, :3], 0, 1)
        img = img[:, :, :3] @ _GRAY_WEIGHTS
    img = img.astype(np.float32)
    if img.ndim == 2:
        img = img[:, :, np.newaxis]
        if color:
            img = np.tile(img, (1, 1, 3))
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return img


def _linear_axis(image, axis, out_size):
    """Bilinear resampling along one axis with zeros outside (scikit-image's constant mode)."""
    in_size = image.shape[axis]
    x = in_size / out_size * (np.arange(out_size) + 0.5) - 0.5
    low = np.floor(x).astype(np.int64)
    weight = x - low
    padded = np.concatenate([np.zeros_like(np.take(image, [0], axis=axis)), image,
                             np.zeros_like(np.take(image, [0], axis=axis))], axis=axis)
    low_vals = np.take(padded, np.clip(low + 1, 0, in_size + 1), axis=axis)
    high_vals = np.take(padded, np.clip(low + 2, 0, in_size + 1), axis=axis)
    shape = [1] * image.ndim
    shape[axis] = out_size
    weight = weight.reshape(shape)
    return (1 - weight) * low_vals + weight * high_vals


def _resize_std(image, new_dims, order):
    from scipy import ndimage

    out_shape = (int(new_dims[0]), int(new_dims[1]), image.shape[2])
    factors = np.array(image.shape, dtype=float) / np.array(out_shape, dtype=float)
    sigma = np.maximum(0, (factors - 1) / 2)
    image = ndimage.gaussian_filter(image, sigma, mode="constant", cval=0.0)
    low, high = image.min(), image.max()
    image64 = image.astype(np.float64)
    if order == 1:
        out = _linear_axis(_linear_axis(image64, 0, out_shape[0]), 1, out_shape[1])
    else:
        rows = factors[0] * (np.arange(out_shape[0]) + 0.5) - 0.5
        cols = factors[1] * (np.arange(out_shape[1]) + 0.5) - 0.5
        grid = np.meshgrid(rows, cols, indexing="ij")
        out = np.stack([ndimage.map_coordinates(image64[:, :, c], grid, order=order,
                                                mode="grid-constant", cval=0.0)
                        for c in range(out_shape[2])], axis=2)
    if order != 0:
        np.clip(out, low, high, out=out)
    return out


def resize_image(im, new_dims, interp_order=1):
    im = np.asarray(im)
    if im.shape[-1] in (1, 3):
        low, high = im.min(), im.max()
        if high > low:
            std = (im - low) / (high - low)
            resized = _resize_std(std, new_dims, interp_order) * (high - low) + low
        else:
            return np.full((new_dims[0], new_dims[1], im.shape[-1]), low, dtype=np.float32)
    else:
        from scipy import ndimage

        scale = tuple(np.array(new_dims, dtype=float) / np.array(im.shape[:2]))
        resized = ndimage.zoom(im, scale + (1,), order=interp_order)
    return resized.astype(np.float32)


def oversample(images, crop_dims):
    first = np.asarray(images[0])
    height, width = first.shape[:2]
    ch, cw = int(crop_dims[0]), int(crop_dims[1])
    boxes = [(top, left) for top in (0, height - ch) for left in (0, width - cw)]
    # The centre crop starts at centre - crop/2, truncated toward zero as pycaffe's int cast.
    boxes.append((int(height / 2.0 - ch / 2.0), int(width / 2.0 - cw / 2.0)))
    crops = np.empty((10 * len(images), ch, cw, first.shape[-1]), dtype=np.float32)
    k = 0
    for image in images:
        image = np.asarray(image)
        for top, left in boxes:
            crops[k] = image[top:top + ch, left:left + cw, :]
            crops[k + 5] = crops[k][:, ::-1, :]
            k += 1
        k += 5
    return crops
