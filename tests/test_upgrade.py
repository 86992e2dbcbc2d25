"""Legacy upgrades against the files Caffe's own upgrade tools produced."""
import logging
import subprocess
import sys

import pytest

from caffe_compat import io as cio
from caffe_compat.proto import caffe_pb2
from caffe_compat.upgrade import (UpgradeError, net_needs_upgrade, upgrade_net,
                                  upgrade_solver)
from conftest import CAFFE_REF, REPO, need
from prototxt import PrototxtError, parse_net, parse_solver, read_net, read_solver
from solver.cli import main as cli_main

V1_NET = CAFFE_REF / "formats" / "v1_net"
V1_SOLVER = CAFFE_REF / "formats" / "v1_solver"


def _binary(path):
    net = caffe_pb2.NetParameter()
    net.ParseFromString(path.read_bytes())
    return net


@pytest.mark.parametrize("v1, upgraded", [
    ("v1_train_val.prototxt", "upgraded_train_val.prototxt"),
    ("v1_deploy.prototxt", "upgraded_deploy.prototxt"),
])
def test_v1_net_text_equals_caffe_upgrade(v1, upgraded, caplog):
    need(V1_NET)
    caffes = read_net(V1_NET / upgraded)
    assert not net_needs_upgrade(read_net(V1_NET / upgraded, upgrade=False))
    raw = read_net(V1_NET / v1, upgrade=False)
    assert len(raw.layers) > 0 and len(raw.layer) == 0
    with caplog.at_level(logging.INFO, logger="caffe_compat.upgrade"):
        ours = read_net(V1_NET / v1)
    assert ours == caffes
    assert ("Attempting to upgrade input file specified using deprecated V1LayerParameter: "
            f"{V1_NET / v1}") in caplog.text


def test_v1_deploy_input_fields_become_input_layer():
    net = read_net(need(V1_NET / "v1_deploy.prototxt"))
    first = net.layer[0]
    assert (first.name, first.type, list(first.top)) == ("input", "Input", ["data"])
    assert list(first.input_param.shape[0].dim) == [2, 1, 24, 24]
    assert len(net.input) == 0 and len(net.input_dim) == 0


def test_v1_solver_equals_caffe_upgrade(caplog):
    need(V1_SOLVER)
    raw = read_solver(V1_SOLVER / "v1_solver.prototxt", upgrade=False)
    assert raw.solver_type == caffe_pb2.SolverParameter.NESTEROV
    with caplog.at_level(logging.INFO, logger="caffe_compat.upgrade"):
        ours = read_solver(V1_SOLVER / "v1_solver.prototxt")
    assert ours == read_solver(V1_SOLVER / "upgraded_solver.prototxt")
    assert ours.type == "Nesterov" and not ours.HasField("solver_type")
    assert "deprecated 'solver_type' field (enum)" in caplog.text


def test_v1_caffemodel_upgrade_equals_caffe_binary_upgrade():
    need(V1_NET)
    ours = cio.read_net_binary(V1_NET / "v1_weights.caffemodel")
    caffes = _binary(V1_NET / "upgraded_weights.caffemodel")
    assert ours == caffes
    # Same bytes too: what upgrade_net_proto_binary wrote.
    assert ours.SerializeToString() == (V1_NET / "upgraded_weights.caffemodel").read_bytes()
    # Blobs keep their legacy 4-D dims, as Caffe leaves them.
    fc1 = [layer for layer in ours.layer if layer.name == "fc1"][0]
    assert cio.blob_shape(fc1.blobs[0]) == (1, 1, 20, 864)
    assert not fc1.blobs[0].HasField("shape")


def test_solver_type_enum_names():
    for enum, name in [("SGD", "SGD"), ("NESTEROV", "Nesterov"), ("ADAGRAD", "AdaGrad"),
                       ("RMSPROP", "RMSProp"), ("ADADELTA", "AdaDelta"), ("ADAM", "Adam")]:
        solver = parse_solver(f"base_lr: 0.1\nsolver_type: {enum}\n")
        assert solver.type == name and not solver.HasField("solver_type")
    assert upgrade_solver(caffe_pb2.SolverParameter(type="Adam")) is False
    with pytest.raises(UpgradeError, match="cannot be both specified"):
        parse_solver('solver_type: ADAM\ntype: "Adam"\n', "s.prototxt")


V1_LAYER_TEXT = """
name: "legacy"
input: "a"
input: "b"
input_dim: 4 input_dim: 3 input_dim: 8 input_dim: 8
input_dim: 4 input_dim: 1 input_dim: 1 input_dim: 1
layers {
  name: "data" type: DATA top: "x"
  data_param { source: "db" batch_size: 2 scale: 0.5 mean_file: "m.binaryproto"
               crop_size: 6 mirror: true }
  exclude { phase: TEST }
}
layers {
  name: "ip" type: INNER_PRODUCT bottom: "a" top: "y"
  param: "shared_w" param: "shared_b"
  blob_share_mode: PERMISSIVE
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
  inner_product_param { num_output: 3 }
}
layers { name: "loss" type: SIGMOID_CROSS_ENTROPY_LOSS bottom: "y" bottom: "b" top: "l"
         loss_weight: 0.5 loss_param { ignore_label: -1 } }
layers { name: "s" type: SILENCE bottom: "x" }
"""


def test_v1_fields_upgrade_as_caffe_does():
    net = parse_net(V1_LAYER_TEXT)
    assert [layer.type for layer in net.layer] == [
        "Input", "Data", "InnerProduct", "SigmoidCrossEntropyLoss", "Silence"]
    inp = net.layer[0]
    assert list(inp.top) == ["a", "b"]
    assert [list(s.dim) for s in inp.input_param.shape] == [[4, 3, 8, 8], [4, 1, 1, 1]]
    data = net.layer[1]
    assert data.exclude[0].phase == caffe_pb2.TEST
    t = data.transform_param
    assert (t.scale, t.mean_file, t.crop_size, t.mirror) == (0.5, "m.binaryproto", 6, True)
    for field in ("scale", "mean_file", "crop_size", "mirror"):
        assert not data.data_param.HasField(field)
    assert data.data_param.source == "db" and data.data_param.batch_size == 2
    ip = net.layer[2]
    specs = [(p.name, p.share_mode if p.HasField("share_mode") else None, p.lr_mult,
              p.decay_mult) for p in ip.param]
    assert specs == [("shared_w", caffe_pb2.ParamSpec.PERMISSIVE, 1, 1),
                     ("shared_b", None, 2, 0)]
    assert ip.inner_product_param.num_output == 3
    loss = net.layer[3]
    assert list(loss.loss_weight) == [0.5] and loss.loss_param.ignore_label == -1


def test_input_shape_form_and_legacy_caffemodel_input():
    net = parse_net('input: "x"\ninput_shape { dim: 2 dim: 5 }\n'
                    'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n')
    assert [layer.name for layer in net.layer] == ["input", "r"]
    assert list(net.layer[0].input_param.shape[0].dim) == [2, 5]
    # A caffemodel with input names but no dims: the names are just dropped.
    net = caffe_pb2.NetParameter(input=["data"])
    net.layer.add(name="r", type="ReLU")
    upgrade_net(net)
    assert len(net.input) == 0 and [layer.name for layer in net.layer] == ["r"]
    with pytest.raises(UpgradeError, match="4 input_dim values"):
        parse_net('input: "x"\ninput_dim: 1\ninput_dim: 2\n')


def test_batchnorm_three_params_get_zero_rates():
    net = parse_net('layer { name: "bn" type: "BatchNorm" bottom: "x" top: "x"\n'
                    '  param { lr_mult: 1 name: "m" } param { lr_mult: 1 decay_mult: 2 }\n'
                    '  param { lr_mult: 0 } }\n'
                    'layer { name: "bn2" type: "BatchNorm" bottom: "x" top: "x"\n'
                    '  param { lr_mult: 1 } }\n')
    specs = [(p.lr_mult, p.decay_mult, p.name) for p in net.layer[0].param]
    assert specs == [(0, 0, "m"), (0, 0, ""), (0, 0, "")]
    # Only the old three-param form is touched.
    assert net.layer[1].param[0].lr_mult == 1


def test_layer_and_layers_mixed_refused_as_caffe():
    net = parse_net('layer { name: "new" type: "ReLU" }\nlayers { name: "old" type: RELU }\n',
                    upgrade=False)
    with pytest.raises(UpgradeError, match="Refusing to upgrade inconsistent NetParameter input; "
                       "the definition includes both 'layer' and 'layers' fields.*'new'.*'old'"):
        upgrade_net(net)


# ---------------------------------------------------------------------------- CLI

def test_cli_upgrades_text_like_caffe_tools(tmp_path):
    need(V1_NET)
    need(V1_SOLVER)
    for src, expected, name in [
        (V1_NET / "v1_train_val.prototxt", V1_NET / "upgraded_train_val.prototxt", "tv.prototxt"),
        (V1_NET / "v1_deploy.prototxt", V1_NET / "upgraded_deploy.prototxt", "d.prototxt"),
        (V1_SOLVER / "v1_solver.prototxt", V1_SOLVER / "upgraded_solver.prototxt", "s.prototxt"),
    ]:
        out = tmp_path / name
        assert cli_main(["upgrade", str(src), str(out)]) == 0
        # Byte for byte what upgrade_net_proto_text / upgrade_solver_proto_text wrote.
        assert out.read_text() == expected.read_text(), name


def test_cli_upgrades_caffemodel_subprocess(tmp_path):
    need(V1_NET)
    out = tmp_path / "w.caffemodel"
    run = subprocess.run([sys.executable, "-m", "solver", "upgrade",
                          str(V1_NET / "v1_weights.caffemodel"), str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "deprecated V1LayerParameter" in run.stderr
    assert out.read_bytes() == (V1_NET / "upgraded_weights.caffemodel").read_bytes()


def test_cli_errors_are_clear(tmp_path, capsys):
    bad = tmp_path / "bad_net.prototxt"
    bad.write_text('layer {\n  name: "c"\n  type: "Convolution"\n  convolution_param {\n')
    assert cli_main(["upgrade", str(bad), str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:4:" in err and "unexpected end of file" in err and "'c'" in err
    assert "Traceback" not in err

    garbage = tmp_path / "g.caffemodel"
    garbage.write_bytes(bytes(range(256)) * 4)
    assert cli_main(["upgrade", str(garbage), str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert str(garbage) in err and "not a valid caffemodel" in err

    assert cli_main(["upgrade", str(tmp_path / "missing"), str(tmp_path / "o")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_detects_solver_without_name_hint(tmp_path):
    src = tmp_path / "config.txt"
    src.write_text('net: "n.prototxt"\nbase_lr: 0.1\nsolver_type: ADAGRAD\n')
    out = tmp_path / "out.txt"
    assert cli_main(["upgrade", str(src), str(out)]) == 0
    assert read_solver(out).type == "AdaGrad"
    with pytest.raises(PrototxtError):
        read_net(out)
