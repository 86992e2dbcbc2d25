"""Run a ``../shared/caffe-reference/layers/<case>`` by hand, layer by layer, without the Net.

The layers after the Input layer are built from ``net.prototxt`` and wired by blob name, in
order; their parameters are set from ``param/``, fed ``in/``, run forward, then backward from
``topdiff/`` (propagate_down wherever the layer allows it: the cases use ``force_backward``).
The result is compared with Caffe's ``out/``, ``paramafter/``, ``indiff/``, ``diff/`` and
``paramdiff/``.
"""
import numpy as np
from google.protobuf import text_format

from caffe_compat.blob import Blob
from caffe_compat.layer_types import create_layer, layer_types
from caffe_compat.proto import caffe_pb2

from conftest import CAFFE_REF, REPO, need

# Fixtures of tests/tools/record_real_caffe_layers.py: <case>.prototxt and <case>.npz.
RECORDED = REPO / "tests" / "data" / "real_caffe_layers"

# As in test_reference_cases: rtol 1e-4 and an absolute floor of 1e-5 of the blob's largest
# value (at least 1e-5), since float32 sums differ with the BLAS kernel and thread count.
RTOL, ATOL, SCALE_ATOL = 1e-4, 1e-5, 1e-5


def case_names(prefix):
    """Sorted names of the reference layer cases that start with ``prefix``."""
    return sorted(p.name for p in need(CAFFE_REF / "layers").glob(prefix + "*"))


def load_case(name):
    """(NetParameter, arrays) of the case; skips the test when ../shared is absent."""
    folder = need(CAFFE_REF / "layers" / name)
    net = caffe_pb2.NetParameter()
    text_format.Merge((folder / "net.prototxt").read_text(), net)
    with np.load(folder / "case.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return net, arrays


def load_recorded(name):
    """(NetParameter, arrays) of ``tests/data/real_caffe_layers/<name>``: recorded by
    tests/tools/record_real_caffe_layers.py, in the keys of ../shared/caffe-reference."""
    net = caffe_pb2.NetParameter()
    text_format.Merge((RECORDED / f"{name}.prototxt").read_text(), net)
    with np.load(RECORDED / f"{name}.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return net, arrays


def run_case(name, skip_types=(), backward=True, loader=load_case):
    """Forward (+ backward) of the case; returns (blobs, layers, arrays, skipped_blobs)."""
    net, arrays = loader(name)
    phase = int(arrays["meta/phase"])
    blobs = {}
    for key, value in arrays.items():
        if key.startswith("in/"):
            b = Blob(value.shape, name=key[3:])
            b.data[...] = value
            blobs[key[3:]] = b
    layers, skipped = [], set()
    for lp in net.layer:
        if lp.type == "Input":
            continue
        if lp.type in skip_types or lp.type not in layer_types():
            skipped.update(lp.bottom)
            continue
        layer = create_layer(lp, phase)
        bottom = [blobs[n] for n in lp.bottom]
        top = [blobs.setdefault(n, Blob((), name=n)) for n in lp.top]
        layer.check_blob_counts(bottom, top)
        layer.setup(bottom, top)
        for k, p in enumerate(layer.blobs):
            key = f"param/{lp.name}/{k}"
            if key in arrays:
                assert p.shape == arrays[key].shape, (key, p.shape, arrays[key].shape)
                p.data[...] = arrays[key]
        layer.reshape(bottom, top)
        layer.reshape(bottom, top)  # again before Forward, as the Net does (Filter's first differs)
        layer.forward(bottom, top)
        layers.append((layer, bottom, top))
    if backward:
        for key, value in arrays.items():
            if key.startswith("topdiff/"):
                blobs[key[8:]].diff[...] = value
        for layer, bottom, top in reversed(layers):
            prop = [layer.allow_force_backward(i) for i in range(len(bottom))]
            layer.backward(top, prop, bottom)
    return blobs, layers, arrays, skipped


def compare_recorded(name, backward=True):
    """``compare_case`` of a case of tests/data/real_caffe_layers."""
    return compare_case(name, backward=backward, loader=load_recorded)


def compare_case(name, skip_types=(), backward=True, loader=load_case):
    """Assert every stored number of the case matches; returns the keys compared (>= 1).
    ``loader=load_recorded`` reads the case from tests/data/real_caffe_layers."""
    blobs, layers, arrays, skipped = run_case(name, skip_types, backward, loader)
    params = {layer.name: layer.blobs for layer, _, _ in layers}

    def lookup(kind, rest):
        if kind in ("out", "indiff", "diff"):
            if kind != "out" and rest in skipped:
                return None  # a diff that only a skipped layer would have written
            blob = blobs[rest]
            return blob.data if kind == "out" else blob.diff
        if kind in ("paramafter", "paramdiff"):
            layer_name, _, k = rest.rpartition("/")
            if layer_name not in params:
                return None
            p = params[layer_name][int(k)]
            return p.data if kind == "paramafter" else p.diff
        return None

    return assert_numbers(name, arrays, lookup, backward)


def assert_numbers(name, arrays, lookup, backward=True):
    """Assert every Caffe number of ``arrays`` that ``lookup(kind, rest)`` finds ours for
    (None: not compared) matches within RTOL / the scaled ATOL; backward keys (``indiff``,
    ``diff``, ``paramdiff``) only with ``backward``. Returns the keys compared (>= 1)."""
    checked = []
    for key, want in arrays.items():
        kind, _, rest = key.partition("/")
        if kind in ("indiff", "diff", "paramdiff") and not backward:
            continue
        got = lookup(kind, rest)
        if got is None:
            continue
        assert got.shape == want.shape, f"{name} {key}: shape {got.shape} vs Caffe {want.shape}"
        atol = max(ATOL, SCALE_ATOL * float(np.max(np.abs(want)))) if want.size else ATOL
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=atol, err_msg=f"{name} {key}")
        checked.append(key)
    assert checked, f"{name}: no Caffe numbers compared"
    return checked
