"""What the layer-grid tests share: threads on/off, running one layer, comparing.

Each grid test runs a layer on a shape grid that includes the sizes real nets use, and
compares its forward and backward with a slow reference written in the test module as
Caffe's loops (vectorised only over the innermost dimensions), never with the code under
test. The ``threads`` fixture runs every case twice: batch-split threads off (1 thread) and
forced on (3 threads, no size floor, so even small blobs are cut into uneven slices).
"""
import numpy as np
import pytest

import caffe_compat.parallel as parallel
from caffe_compat.blob import Blob
from gradcheck import layer_from_text

# Bottom diffs start at this value; backward must overwrite it (Caffe writes, never adds).
SENTINEL = 7.0


@pytest.fixture(params=[1, 3], ids=["threads1", "threads3"])
def threads(request, monkeypatch):
    if request.param > 1:
        monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
        monkeypatch.setattr(parallel, "FORCE_SPLIT", True)
    parallel.set_num_threads(request.param)
    yield request.param
    parallel.set_num_threads(parallel._from_environment())


def run_layer(text, inputs, *, num_top=1, phase=1, params=None, seed=0, backward=True,
              propagate=None):
    """Build ``layer { name: 'g' <text> }``, feed ``inputs`` (float32), forward, then backward
    from random top diffs. Returns (layer, bottom blobs, top blobs, top diffs used)."""
    layer = layer_from_text(f"name: 'g' {text}", phase)
    bottom = []
    for a in inputs:
        b = Blob(np.shape(a))
        b.data[...] = a
        bottom.append(b)
    top = [Blob() for _ in range(num_top)]
    layer.check_blob_counts(bottom, top)
    layer.setup(bottom, top)
    for p, v in zip(layer.blobs, params or []):
        p.data[...] = v
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    dys = []
    if backward:
        rng = np.random.default_rng(seed + 1)
        for t in top:
            dy = rng.uniform(-1, 1, t.shape).astype(np.float32)
            t.diff[...] = dy
            dys.append(dy.astype(np.float64))
        for b in bottom:
            b.diff[...] = SENTINEL
        if propagate is None:
            propagate = [layer.allow_force_backward(i) for i in range(len(bottom))]
        layer.backward(top, propagate, bottom)
    return layer, bottom, top, dys


def assert_close(got, want, what, rtol=1e-4, scale_atol=1e-5):
    """float32 results against a float64 reference: ``rtol`` plus an absolute floor of
    ``scale_atol`` times the reference's largest magnitude (sums round differently)."""
    want = np.asarray(want, np.float64)
    assert np.shape(got) == want.shape, f"{what}: shape {np.shape(got)} vs reference {want.shape}"
    atol = max(1e-6, scale_atol * float(np.max(np.abs(want)))) if want.size else 1e-6
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def uniform(shape, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def f64(a):
    return np.asarray(a, np.float64)
