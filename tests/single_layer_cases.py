"""Run a ../shared/caffe-reference/layers/<case> by hand: the layers after its Input layer,
fed the case's inputs, forward, then backward from the recorded top diffs.

Only for single-layer tests (no Net): blobs are wired by name, in order.
"""
import numpy as np
from google.protobuf import text_format

from caffe_compat.blob import Blob
from caffe_compat.layers import create_layer
from caffe_compat.proto import caffe_pb2

from conftest import CAFFE_REF, need

RTOL, ATOL = 1e-4, 1e-5


def load_case(name):
    folder = need(CAFFE_REF / "layers" / name)
    net = caffe_pb2.NetParameter()
    text_format.Merge((folder / "net.prototxt").read_text(), net)
    with np.load(folder / "case.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return net, arrays


def run_case(name, backward=True):
    """Returns (arrays, blobs by name, layers) after forward (and backward)."""
    net, arrays = load_case(name)
    phase = int(arrays["meta/phase"])
    blobs = {}
    for key, value in arrays.items():
        if key.startswith("in/"):
            b = Blob(value.shape, name=key[3:])
            b.data[...] = value
            blobs[key[3:]] = b
    layers = []
    for lp in net.layer:
        if lp.type == "Input":
            continue
        layer = create_layer(lp, phase)
        bottom = [blobs[n] for n in lp.bottom]
        top = [blobs.setdefault(n, Blob((), name=n)) for n in lp.top]
        layer.check_blob_counts(bottom, top)
        layer.setup(bottom, top)
        layer.reshape(bottom, top)
        layer.forward(bottom, top)
        layers.append((layer, lp, bottom, top))
    if backward:
        for key, value in arrays.items():
            if key.startswith("topdiff/"):
                blobs[key[8:]].diff[...] = value
        wanted = {k.split("/", 1)[1] for k in arrays if k.startswith(("indiff/", "diff/"))}
        for layer, lp, bottom, top in reversed(layers):
            prop = [layer.allow_force_backward(i) and n in wanted for i, n in enumerate(lp.bottom)]
            layer.backward(top, prop, bottom)
    return arrays, blobs, layers


def assert_case_matches(name, backward=True):
    """Every out/, indiff/ and diff/ array of the case equals ours within rtol/atol."""
    arrays, blobs, _ = run_case(name, backward)
    checked = 0
    for key, want in arrays.items():
        kind, _, blob = key.partition("/")
        if kind == "out":
            got = blobs[blob].data
        elif backward and kind in ("indiff", "diff"):
            got = blobs[blob].diff
        else:
            continue
        assert got.shape == want.shape, f"{name} {key}: shape {got.shape} vs Caffe {want.shape}"
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{name} {key}")
        checked += 1
    assert checked >= 1
    return checked
