"""``tscaffe upgrade`` against Caffe 1.0's upgrade_net_proto_text / upgrade_solver_proto_text
on the inputs of tests/upgrade_cases.py (their output recorded by tests/tools/record_upgrade.py
into tests/data/upgrade_real.json): the same file byte for byte, or the same refusal."""
import json
import os

import pytest

import upgrade_cases
from solver.cli import main as cli_main

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "data", "upgrade_real.json")) as _f:
    REAL = json.load(_f)

CASES = sorted(REAL)


@pytest.mark.parametrize("name", CASES)
def test_tscaffe_upgrade_writes_what_caffe_writes(name, tmp_path, capsys):
    real = REAL[name]
    src = tmp_path / f"{name}.prototxt"
    src.write_text(real["input"])
    dst = tmp_path / "out.prototxt"
    rc = cli_main(["upgrade", "--kind", real["kind"], str(src), str(dst)])
    if real["output"] is None:  # Caffe refused (LOG(FATAL) / CHECK)
        assert rc != 0 and not dst.exists()
        message = real["fatal"]
        key = message[message.index("Failed"):] if "Failed to upgrade solver" in message else message
        key = key.split(" in solver proto text")[0].rstrip(".")
        assert key in capsys.readouterr().err
        return
    assert rc == 0, capsys.readouterr().err
    assert dst.read_text() == real["output"]


def test_cases_match_the_recording():
    """The recorded inputs are the cases' inputs (re-record after changing a case)."""
    for name, text in list(upgrade_cases.NETS.items()) + list(upgrade_cases.SOLVERS.items()):
        assert REAL[name]["input"] == text, name


def test_every_v1_layer_type_upgrades_to_a_creatable_layer():
    """Caffe's TestUpgradeV1LayerType: each V1 enum value but NONE names a layer type the
    registry creates (from a parameter holding only the type)."""
    from caffe_compat.layer_types.base import create_layer
    from caffe_compat.proto import caffe_pb2
    from caffe_compat.upgrade import v1_type_name

    enum = caffe_pb2.V1LayerParameter.LayerType
    assert len(enum.keys()) == 40
    for name in enum.keys():
        if name == "NONE":
            continue
        type_name = v1_type_name(enum.Value(name))
        layer = create_layer(caffe_pb2.LayerParameter(name="x", type=type_name), caffe_pb2.TRAIN)
        assert layer.type == type_name, name
