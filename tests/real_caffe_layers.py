"""Run a recorded case of tests/data/real_caffe_layers through caffe_compat's Net.

The cases were recorded from real Caffe 1.0 by tests/tools/record_real_caffe_complex_layers.py
(key conventions of ../shared/caffe-reference): the net is built from ``<case>.prototxt``
(files it names, like InfogainLoss's ``source``, resolved next to the case), parameters set
from ``param/``, inputs from ``in/``; Forward; the outputs' diffs set from ``topdiff/``;
Backward with zeroed parameter diffs. Every ``out/``, ``indiff/``, ``diff/`` and
``paramdiff/`` number is compared with rtol 1e-4 and an absolute floor of 1e-5 of the
blob's largest value (float32 sums differ with the order), as layer_case.py does.
"""
import re
from pathlib import Path

import numpy as np
from google.protobuf import text_format

from caffe_compat.net import Net
from caffe_compat.proto import caffe_pb2

from layer_case import assert_numbers

DATA = Path(__file__).resolve().parent / "data" / "real_caffe_layers"


def case_names(prefix):
    return sorted(p.stem for p in DATA.glob(prefix + "*.npz"))


def load_case(name):
    """(NetParameter, arrays): the prototxt with file names made absolute, and the npz."""
    text = (DATA / f"{name}.prototxt").read_text()
    text = re.sub(r'"(%s\.[^"]+)"' % re.escape(name), lambda m: '"%s"' % (DATA / m.group(1)), text)
    param = text_format.Parse(text, caffe_pb2.NetParameter())
    with np.load(DATA / f"{name}.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return param, arrays


def run_case(name, backward=True):
    """The Net after Forward (and Backward) on the case's inputs; returns (net, arrays)."""
    param, arrays = load_case(name)
    net = Net(param, int(arrays["meta/phase"]))
    for key, value in arrays.items():
        kind, _, rest = key.partition("/")
        if kind == "in":
            net.blobs[rest].data[...] = value
        elif kind == "param":
            layer, _, k = rest.rpartition("/")
            net.params[layer][int(k)].data[...] = value
    net.forward()
    if backward:
        net.clear_param_diffs()
        for key, value in arrays.items():
            if key.startswith("topdiff/"):
                net.blobs[key[8:]].diff[...] = value
        net.backward()
    return net, arrays


def compare_case(name, backward=True):
    """Assert every recorded number matches; returns the keys compared."""
    net, arrays = run_case(name, backward)

    def lookup(kind, rest):
        if kind in ("out", "indiff", "diff"):
            blob = net.blobs[rest]
            return blob.data if kind == "out" else blob.diff
        if kind == "paramdiff":
            layer, _, k = rest.rpartition("/")
            return net.params[layer][int(k)].diff
        return None

    return assert_numbers(name, arrays, lookup, backward)
