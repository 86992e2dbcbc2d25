"""Central-difference gradient checks for single layers, with Caffe's criterion.

The objective is ``L = sum_k <top_k.data, W_k>`` with fixed random weights ``W_k``
(loss layers: their scalar top times its loss weight). The analytic gradient comes from
``backward`` with ``top_k.diff = W_k``; the numeric one from ``(L(x+h) - L(x-h)) / 2h`` for
every element of every checked bottom and parameter, all in float64. Caffe's criterion:
``|a - b| <= threshold * max(|a|, |b|, 1)``; elements within ``kink_range`` of ``kink`` in
some top (non-differentiable points such as ReLU's 0) are skipped, as Caffe's checker does.
"""
import copy

import numpy as np

from caffe_compat.blob import Blob


def make_blobs(arrays):
    blobs = []
    for a in arrays:
        b = Blob(np.shape(a), dtype=np.float64)
        b.data[...] = a
        blobs.append(b)
    return blobs


def params_to_float64(layer):
    """Parameter blobs in float64 (data converted, diffs zeroed), for double-precision checks."""
    for p in layer.blobs:
        p.data = p.data.astype(np.float64)
        p.diff = np.zeros_like(p.data)


def setup_layer(layer, arrays, num_top=1, float64_params=False):
    """Float64 bottoms holding ``arrays`` and ``num_top`` empty tops, after the layer's setup
    and reshape; returns ``(bottom, top)``."""
    bottom = make_blobs(arrays)
    top = [Blob((), dtype=np.float64) for _ in range(num_top)]
    layer.setup(bottom, top)
    if float64_params:
        params_to_float64(layer)
    layer.reshape(bottom, top)
    return bottom, top


def setup_shapes(layer, *shapes, num_top=1):
    """Zero float32 bottoms of ``shapes`` and ``num_top`` tops, after the layer's blob-count
    check, setup and reshape; returns ``(bottom, top)``."""
    bottom = [Blob(s) for s in shapes]
    top = [Blob() for _ in range(num_top)]
    layer.check_blob_counts(bottom, top)
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    return bottom, top


def _objective(layer, bottom, top, weights):
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    return sum(float(np.sum(t.data * w)) for t, w in zip(top, weights))


def check_gradient(layer, bottom_arrays, num_top=1, *, step=1e-6, threshold=1e-5,
                   check_bottom=None, check_params=True, seed=0, setup=True,
                   kink=None, kink_range=-1.0):
    """Assert the layer's backward matches central differences; returns the max error.

    ``check_bottom``: indices of bottoms to check (default: all). Params are converted to
    float64 after ``setup`` so the whole computation is in double precision.
    """
    rng = np.random.default_rng(seed)
    bottom = make_blobs(bottom_arrays)
    top = [Blob((), dtype=np.float64) for _ in range(num_top)]
    if setup:
        layer.check_blob_counts(bottom, top)
        layer.setup(bottom, top)
    params_to_float64(layer)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    weights = [rng.uniform(-1, 1, size=t.shape) if t.data.ndim else np.float64(rng.uniform(0.5, 1.5))
               for t in top]
    if check_bottom is None:
        check_bottom = list(range(len(bottom)))

    def analytic():
        _objective(layer, bottom, top, weights)
        for t, w in zip(top, weights):
            t.diff[...] = w
        for p in layer.blobs:
            p.diff[...] = 0
        for b in bottom:
            b.diff[...] = 0
        prop = [i in check_bottom for i in range(len(bottom))]
        layer.backward(top, prop, bottom)
        grads = [bottom[i].diff.copy() for i in check_bottom]
        if check_params:
            grads += [p.diff.copy() for p in layer.blobs]
        return grads

    grads = analytic()
    targets = [bottom[i].data for i in check_bottom]
    if check_params:
        targets += [p.data for p in layer.blobs]
    worst = 0.0
    for arr, grad in zip(targets, grads):
        flat = arr.reshape(-1)
        gflat = grad.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + step
            lp = _objective(layer, bottom, top, weights)
            tops_p = [t.data.copy() for t in top]
            flat[j] = orig - step
            lm = _objective(layer, bottom, top, weights)
            flat[j] = orig
            if kink is not None and any(
                np.any(np.abs(tp - kink) < kink_range) for tp in tops_p
            ):
                # Skip only if this element's perturbation lands near the kink.
                if abs(orig - kink) < kink_range:
                    continue
            numeric = (lp - lm) / (2 * step)
            a = float(gflat[j])
            scale = max(abs(a), abs(numeric), 1.0)
            err = abs(a - numeric) / scale
            worst = max(worst, err)
            assert err <= threshold, (
                f"{layer.type} '{layer.name}': gradient mismatch at element {j}: "
                f"analytic {a:.8g} vs numeric {numeric:.8g}"
            )
    _objective(layer, bottom, top, weights)
    return worst


def layer_from_text(text, phase=1):
    """Build a layer from one ``layer { ... }`` prototxt snippet (for unit tests)."""
    from google.protobuf import text_format

    from caffe_compat.layer_types import create_layer
    from caffe_compat.proto import caffe_pb2

    param = caffe_pb2.LayerParameter()
    text_format.Merge(text, param)
    return create_layer(param, phase)


def clone_layer(layer):
    return copy.deepcopy(layer)
