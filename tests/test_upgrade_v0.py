"""V0 nets (``layers { layer { ... } }``) upgraded as real Caffe 1.0 upgrades them.

tests/data/v0_upgrade.json holds what Caffe's ``upgrade_net_proto_text`` wrote for each file
of tests/data/v0 and for tests/data/zoo/caffenet_v0.prototxt (tests/tools/record_v0_upgrade.py):
the upgraded text, the "Unknown parameter ..." errors it logged, or its fatal message.
The CaffeNet in V0 form is also one of the zoo nets (tests/data/zoo).
"""
import json
import logging
import os
import re

import pytest
from google.protobuf import text_format

from caffe_compat.net import Net, read_net_text
from caffe_compat.proto import caffe_pb2
from caffe_compat.upgrade import UpgradeError, net_needs_upgrade, upgrade_net

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
with open(os.path.join(DATA, "v0_upgrade.json")) as _f:
    CAFFE = json.load(_f)
# The tool's own closing line, not the upgrade's.
TOOL_LINE = "Encountered error(s) while upgrading prototxt; see details above."


def path_of(case):
    if case == "caffenet_v0":
        return os.path.join(DATA, "zoo", case + ".prototxt")
    return os.path.join(DATA, "v0", case + ".prototxt")


def raw(case):
    net = caffe_pb2.NetParameter()
    with open(path_of(case)) as f:
        text_format.Parse(f.read(), net)
    return net


def test_every_case_recorded():
    files = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(DATA, "v0"))}
    assert files | {"caffenet_v0"} == set(CAFFE)


@pytest.mark.parametrize("case", sorted(c for c in CAFFE if "text" in CAFFE[c]))
def test_upgrade_equals_caffe(case, caplog):
    expected = caffe_pb2.NetParameter()
    text_format.Parse(CAFFE[case]["text"], expected)
    net = raw(case)
    with caplog.at_level(logging.INFO, logger="caffe_compat.upgrade"):
        ok = upgrade_net(net, path_of(case))
    assert text_format.MessageToString(net) == text_format.MessageToString(expected)
    assert net == expected
    assert not net_needs_upgrade(net)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [e for e in CAFFE[case]["errors"] if e != TOOL_LINE]
    assert ok == (CAFFE[case]["exit"] == 0)
    assert ("Attempting to upgrade input file specified using deprecated V0LayerParameter: "
            + path_of(case)) in caplog.text


@pytest.mark.parametrize("case", sorted(c for c in CAFFE if "refused" in CAFFE[c]))
def test_refusal_names_caffe_reason(case):
    message = re.sub(r"^Check failed: .*?\) (?=[A-Z])", "", CAFFE[case]["refused"])
    with pytest.raises(UpgradeError, match=re.escape(message)) as info:
        upgrade_net(raw(case), path_of(case))
    assert path_of(case) in str(info.value)


def test_v0_net_reads_and_builds():
    """read_net_text upgrades on reading (Caffe's ReadNetParamsFromTextFileOrDie); the
    padding layers are gone and their pads sit in the convolutions."""
    param = read_net_text(path_of("caffenet_v0"))
    assert [layer.type for layer in param.layer][:3] == ["Input", "Convolution", "ReLU"]
    net = Net(path_of("caffenet_v0"), 1)
    assert "pad2" not in net.layer_names
    assert net.blobs["conv2"].data.shape == (1, 256, 27, 27)
    assert net.blobs["prob"].data.shape == (1, 1000)


def test_v0_binary_blobs_travel():
    """A V0 caffemodel's blobs (num/channels/height/width) land in the upgraded layer."""
    net = caffe_pb2.NetParameter()
    layer = net.layers.add()
    layer.layer.name, layer.layer.type, layer.layer.num_output = "ip", "innerproduct", 2
    blob = layer.layer.blobs.add()
    blob.num, blob.channels, blob.height, blob.width = 1, 1, 2, 3
    blob.data.extend([1, 2, 3, 4, 5, 6])
    layer.bottom.append("x")
    layer.top.append("y")
    net.input.append("x")
    assert upgrade_net(net, "v0.caffemodel")
    assert [l.name for l in net.layer] == ["ip"] and list(net.layer[0].blobs[0].data) == [1, 2, 3, 4, 5, 6]
    assert net.layer[0].inner_product_param.num_output == 2


def test_tscaffe_upgrade_writes_caffes_text(tmp_path):
    """`tscaffe upgrade` (the text side, prototxt/) gives Caffe's upgraded net too."""
    from solver.cli import main as cli_main

    out = tmp_path / "upgraded.prototxt"
    cli_main(["upgrade", path_of("every_field"), str(out)])
    ours = text_format.Parse(out.read_text(), caffe_pb2.NetParameter())
    assert ours == text_format.Parse(CAFFE["every_field"]["text"], caffe_pb2.NetParameter())
