"""Our reader, printer and Net against real Caffe 1.0's answers on every original and every
rendered prototxt, recorded by tests/tools/record_real_caffe.py in tests/data/real_caffe.json
(Caffe's upgrade tools and ``caffe time`` run on them; the README there says how).

- Caffe reads a file if and only if we do; where it refuses, our error names the same line
  and field. Where it reads one, the text its upgrade tool writes back is byte for byte the
  text we print for the upgraded message (compared by sha256).
- Every blob of every net (Data layers swapped for Input), Split blobs included, has the shape
  Caffe's Net gives; a net Caffe refuses to build, or to run backward, we refuse too.
"""
import hashlib
import json
import re

import pytest
from google.protobuf import text_format

from conftest import ORIGINAL, REPO, need

RECORD = json.loads((REPO / "tests" / "data" / "real_caffe.json").read_text())
PARSE = sorted(RECORD["parse"])
NETS = sorted(RECORD["nets"])


def test_the_record_covers_every_file():
    assert RECORD["caffe"] == "caffe version 1.0.0"
    originals = [k for k in PARSE if k.startswith("original/")]
    assert len(originals) == 25 and len([k for k in PARSE if k.startswith("rendered/")]) >= 50
    assert len(NETS) >= 45


def _rendered(config, _cache={}):
    from prototxt.render import render_config

    if config not in _cache:
        _cache[config] = render_config(config)
    return _cache[config]


def source_text(key):
    """(text, path shown in errors) of a recorded file."""
    kind, rest = key.split("/", 1)
    if kind == "original":
        path = need(ORIGINAL / rest)
        return path.read_text(), str(path)
    config, name = rest.split("/", 1)
    return _rendered(config)[name], name


@pytest.mark.parametrize("key", PARSE)
def test_we_read_what_caffe_reads(key):
    from prototxt.io import PrototxtError, parse_net, parse_solver, to_text

    caffe = RECORD["parse"][key]
    text, path = source_text(key)
    solver = "solver" in key.rsplit("/", 1)[-1]
    parse = parse_solver if solver else parse_net
    if not caffe["ok"]:
        m = re.search(r"Error parsing text-format caffe\.\w+: (\d+):\d+: .*has no field named \"(\w+)\"",
                      caffe["error"])
        assert m, caffe["error"]
        with pytest.raises(PrototxtError) as err:
            parse(text, path)
        assert f"{path}:{m.group(1)}:" in str(err.value) and f"'{m.group(2)}'" in str(err.value)
        return
    ours = to_text(parse(text, path)).encode()
    assert hashlib.sha256(ours).hexdigest() == caffe["sha256"], \
        f"{key}: our upgraded text differs from what Caffe's upgrade tool writes"


def build_like_the_recorder(key):
    """Our Net for a recorded net, made as tests/tools/record_real_caffe.py made Caffe's."""
    from caffe_compat import TRAIN, Net
    from caffe_compat.proto import caffe_pb2
    from prototxt.netedit import swap_data_for_input

    kind, rest = key.split("/", 1)
    entry = RECORD["nets"][key]
    if kind == "original":
        from original_nets import swap_data_layers

        param = swap_data_layers(need(ORIGINAL / rest), entry["batch"])
    else:
        config, name = rest.split("/", 1)
        param = text_format.Parse(_rendered(config)[name], caffe_pb2.NetParameter())
        param = swap_data_for_input(param, tuple(entry["sample_shape"]), batch=entry["batch"],
                                    phase=caffe_pb2.TRAIN)
    return lambda: Net(param, TRAIN)


@pytest.mark.parametrize("key", NETS)
def test_net_shapes_equal_caffes(key):
    import numpy as np

    from caffe_compat.errors import CaffeError

    entry = RECORD["nets"][key]
    build = build_like_the_recorder(key)
    if not entry["built"]:
        # Caffe's CHECK at Net init, e.g. "Too many params specified for layer fc6".
        m = re.search(r"for layer (\S+)", entry["fatal"] or "")
        with pytest.raises(CaffeError, match=re.escape(m.group(1)) if m else None):
            build()
        return
    net = build()
    ours = {name: list(blob.shape) for name, blob in net.blobs.items()}
    want = entry["shapes"]
    assert set(ours) == set(want), (sorted(set(ours) ^ set(want)))
    wrong = {n: (ours[n], want[n]) for n in want if ours[n] != want[n]}
    assert not wrong, f"blobs whose shape differs from Caffe's (ours, Caffe's): {wrong}"
    if entry["ran"]:
        return
    # Caffe built the net but refused its pass: the same refusal here, naming the layer.
    assert "cannot backpropagate to label inputs" in entry["fatal"]
    rng = np.random.default_rng(0)
    for name in net.inputs:
        net.blobs[name].data[...] = rng.integers(0, 10, net.blobs[name].shape)
    net.forward()
    with pytest.raises(CaffeError, match="cannot back-propagate to its label/target input"):
        net.backward()
