"""The prototxt generator: the shipped configs reproduce every 2017 prototxt, rendered nets
build and run in our Net with Caffe's blob shapes, and mistakes name their config key or
template line."""
import functools
import re

import numpy as np
import pytest
from google.protobuf import text_format

from caffe_compat.proto import caffe_pb2
from prototxt import render
from prototxt.compare import compare_files
from prototxt.render import RenderError, render_config, render_net

from conftest import ORIGINAL, need

IMAGENET = "imagenet/alexnet-VGG/"


def fix_ts_vgg16(text):
    """ts_vgg16_train_val.prototxt puts ``param { lr_mult: 0 }`` blocks inside
    convolution_param (line 368 on), which Caffe rejects. The correction moves them to the
    layer, the evident intent (the student's convs frozen, as its fc_st_6/7 are)."""
    pattern = re.compile(r"\n    param \{\n    lr_mult: 0\n    \}\n    param \{\n    lr_mult: 0"
                         r"\n    \}\n  \}\n\}")
    fixed, count = pattern.subn("\n  }\n  param {\n    lr_mult: 0\n  }\n  param {\n"
                                "    lr_mult: 0\n  }\n}", text)
    assert count == 13  # one per student conv
    return fixed


# original file (under ../shared/original) -> (config, rendered file, text fix)
ORIGINALS = {
    "mnist/teacher_lenet.prototxt": ("mnist_lenet", "teacher_lenet.prototxt", None),
    "mnist/student_lenet.prototxt": ("mnist_lenet", "student_lenet.prototxt", None),
    "mnist/ts_lenet.prototxt": ("mnist_lenet", "ts_lenet.prototxt", None),
    "mnist/ts_lenet_shell.prototxt": ("mnist_lenet", "ts_lenet_shell.prototxt", None),
    "mnist/teacher_lenet_solver.prototxt": ("mnist_lenet", "teacher_lenet_solver.prototxt", None),
    "mnist/student_lenet_solver.prototxt": ("mnist_lenet", "student_lenet_solver.prototxt", None),
    "mnist/ts_lenet_solver.prototxt": ("mnist_lenet", "ts_lenet_solver.prototxt", None),
    "cifar10/ts_cifar10.prototxt": ("cifar10_ts", "ts_cifar10_l0.5.prototxt", None),
    "cifar10/ts_cifar10_solver.prototxt": ("cifar10_ts", "ts_cifar10_l0.5_solver.prototxt", None),
    "cifar10/models/ts_cifar10.prototxt": ("cifar10_ts", "ts_cifar10_l0.1.prototxt", None),
    "cifar10/models/ts_cifar10_solver.prototxt":
        ("cifar10_ts", "ts_cifar10_l0.1_solver.prototxt", None),
    "cifar10/models/cifar10_mini.prototxt": ("cifar10_mini", "cifar10_mini.prototxt", None),
    "cifar10/models/cifar10_mini_solver.prototxt":
        ("cifar10_mini", "cifar10_mini_solver.prototxt", None),
    "cifar10/models/ts_cifar10_mini.prototxt": ("cifar10_mini", "ts_cifar10_mini.prototxt", None),
    "cifar10/models/ts_cifar10_nin.prototxt": ("cifar10_nin", "ts_cifar10_nin.prototxt", None),
    "cifar10/models/ts_cifar10_nin_solver.prototxt":
        ("cifar10_nin", "ts_cifar10_nin_solver.prototxt", None),
    IMAGENET + "alexnet.prototxt": ("imagenet_alexnet_vgg16", "alexnet.prototxt", None),
    IMAGENET + "vgg16_original.prototxt": ("imagenet_alexnet_vgg16", "vgg16_original.prototxt", None),
    IMAGENET + "vgg16_original2.prototxt":
        ("imagenet_alexnet_vgg16", "vgg16_original2.prototxt", None),
    IMAGENET + "vgg16_train_val.prototxt":
        ("imagenet_alexnet_vgg16", "vgg16_train_val.prototxt", None),
    IMAGENET + "vgg16_dummy.prototxt": ("imagenet_alexnet_vgg16", "vgg16_dummy.prototxt", None),
    IMAGENET + "ts_vgg16_train_val.prototxt":
        ("imagenet_alexnet_vgg16", "ts_vgg16_train_val.prototxt", fix_ts_vgg16),
    IMAGENET + "ts_vgg16_train_val2.prototxt":
        ("imagenet_alexnet_vgg16", "ts_vgg16_train_val2.prototxt", None),
    IMAGENET + "ts_vgg16_solver.prototxt": ("imagenet_alexnet_vgg16", "ts_vgg16_solver.prototxt", None),
    IMAGENET + "vgg16_train_val_solver.prototxt":
        ("imagenet_alexnet_vgg16", "vgg16_train_val_solver.prototxt", None),
}
SHIPPED = ["mnist_lenet", "cifar10_ts", "cifar10_mini", "cifar10_nin", "imagenet_alexnet_vgg16",
           "examples"]


@functools.lru_cache(maxsize=None)
def rendered(config):
    return render_config(config)


def test_every_original_prototxt_is_covered():
    root = need(ORIGINAL)
    found = {str(p.relative_to(root)) for p in root.rglob("*.prototxt")}
    assert found == set(ORIGINALS)


@pytest.mark.parametrize("original", sorted(ORIGINALS))
def test_rendered_config_equals_2017_file(original):
    path = need(ORIGINAL / original)
    config, name, fix = ORIGINALS[original]
    text = path.read_text()
    if fix:
        text = fix(text)
    diffs = compare_files(name, path, ignore_paths=True, text_a=rendered(config)[name],
                          text_b=text)
    assert diffs == [], "\n".join(diffs)


def test_ts_vgg16_original_is_invalid_for_caffe():
    """The uncorrected file is rejected by Caffe's schema, hence the text fix above."""
    path = need(ORIGINAL / IMAGENET / "ts_vgg16_train_val.prototxt")
    with pytest.raises(text_format.ParseError, match="368:5"):
        text_format.Parse(path.read_text(), caffe_pb2.NetParameter())


def test_compare_against_original_can_fail():
    """The equality above is not vacuous: the λ = 0.1 net differs from the λ = 0.5 file."""
    path = need(ORIGINAL / "cifar10/ts_cifar10.prototxt")
    diffs = compare_files("x", path, ignore_paths=True,
                          text_a=rendered("cifar10_ts")["ts_cifar10_l0.1.prototxt"])
    assert any("loss_weight: [0.1] != [0.5]" in d for d in diffs)
    assert any("loss_weight: [0.9] != [0.5]" in d for d in diffs)


# Caffe 1.0's layer types (layer_factory registrations); anything else must be a Python layer.
CAFFE_TYPES = set("""AbsVal Accuracy ArgMax BNLL BatchNorm BatchReindex Bias Concat
ContrastiveLoss Convolution Crop Data Deconvolution Dropout DummyData ELU Eltwise Embed
EuclideanLoss Exp Filter Flatten HDF5Data HDF5Output HingeLoss Im2col ImageData InfogainLoss
InnerProduct Input LRN LSTM LSTMUnit Log MVN MemoryData MultinomialLogisticLoss PReLU
Parameter Pooling Power Python RNN ReLU Reduction Reshape SPP Scale Sigmoid
SigmoidCrossEntropyLoss Silence Slice Softmax SoftmaxWithLoss Split TanH Threshold Tile
WindowData""".split())


@pytest.mark.parametrize("config", SHIPPED)
def test_rendered_files_are_caffe_1_0_prototxt(config):
    for name, text in rendered(config).items():
        is_solver = name.endswith("_solver.prototxt")
        msg = caffe_pb2.SolverParameter() if is_solver else caffe_pb2.NetParameter()
        text_format.Parse(text, msg)  # raises on any field outside Caffe 1.0's schema
        if not is_solver:
            assert not msg.layers, name  # current format, never V1
            assert {layer.type for layer in msg.layer} <= CAFFE_TYPES, name


def test_lambda_sweep_weights():
    files = rendered("cifar10_ts")
    assert len([n for n in files if not n.endswith("_solver.prototxt")]) == 13
    for name, text in files.items():
        m = re.match(r"ts_cifar10_l([0-9.]+)\.prototxt$", name)
        if not m:
            continue
        net = text_format.Parse(text, caffe_pb2.NetParameter())
        weights = {layer.name: list(layer.loss_weight) for layer in net.layer if layer.loss_weight}
        lam = float(m.group(1))
        assert weights["ts_loss"] == pytest.approx([lam])
        assert weights["loss"] == pytest.approx([1 - lam])
        solver = text_format.Parse(files[f"ts_cifar10_l{m.group(1)}_solver.prototxt"],
                                   caffe_pb2.SolverParameter())
        assert solver.net == name


def test_onnx_teacher_and_kd_layers():
    net = text_format.Parse(rendered("examples")["kd_cifar10_quick_onnx.prototxt"],
                            caffe_pb2.NetParameter())
    layers = {layer.name: layer for layer in net.layer}
    import json
    teacher = layers["teacher"]
    assert (teacher.type, teacher.python_param.module, teacher.python_param.layer) == \
        ("Python", "solver.teacher", "ONNXTeacher")
    assert list(teacher.bottom) == ["data"] and list(teacher.top) == ["teacher_logits"]
    p = json.loads(teacher.python_param.param_str)
    assert p["onnx"] == "teachers/cifar10_resnet.onnx" and p["channel_order"] == "RGB"
    kd = layers["kd_loss"]
    assert kd.python_param.module == "caffe_compat.layer_types.distillation"
    assert kd.python_param.layer == "KnowledgeDistillation"
    assert json.loads(kd.python_param.param_str) == {"temperature": 4}
    assert list(kd.bottom) == ["ip_s2", "teacher_logits"]
    assert list(kd.loss_weight) == pytest.approx([0.7])
    assert list(layers["loss"].loss_weight) == pytest.approx([0.3])
    fid = layers["fidelity"]
    assert list(fid.top) == ["agreement_top1", "agreement_top5", "kl"]
    assert fid.include[0].phase == caffe_pb2.TEST


# ----------------------------------------------------------------------------- Net shapes

def _net(config, name, shape, batch):
    from caffe_compat.net import Net
    from prototxt.netedit import swap_data_for_input
    param = text_format.Parse(rendered(config)[name], caffe_pb2.NetParameter())
    param = swap_data_for_input(param, shape, batch=batch, phase=caffe_pb2.TEST)
    return Net(param, caffe_pb2.TEST)


def _run(net, num_classes, seed=0):
    rng = np.random.RandomState(seed)
    data = net.blobs["data"]
    data.data[...] = rng.uniform(-1, 1, data.shape).astype(np.float32)
    if "label" in net.blobs:
        label = net.blobs["label"]
        label.data[...] = rng.randint(0, num_classes, label.shape)
    return net.forward()


# (config, file, sample shape, batch, {blob: shape}, run forward?)
SHAPES = [
    ("mnist_lenet", "teacher_lenet.prototxt", (1, 28, 28), 2, {"ip_t2": (2, 100)}, True),
    ("mnist_lenet", "student_lenet.prototxt", (1, 28, 28), 2, {"ip_s2": (2, 100)}, True),
    ("mnist_lenet", "ts_lenet.prototxt", (1, 28, 28), 2,
     {"ip_s2": (2, 100), "sf_t1": (2, 100)}, True),
    ("mnist_lenet", "ts_lenet_shell.prototxt", (1, 28, 28), 2, {"ip_s2": (2, 100)}, True),
    ("cifar10_ts", "ts_cifar10_l0.1.prototxt", (3, 32, 32), 2,
     {"pool_s_3": (2, 64, 4, 4), "ip_s_1": (2, 10), "ip_t_1": (2, 10)}, True),
    ("cifar10_mini", "cifar10_mini.prototxt", (3, 32, 32), 2,
     {"pool_t_2": (2, 32, 8, 8), "ip_t_1": (2, 10)}, True),
    ("cifar10_mini", "ts_cifar10_mini.prototxt", (3, 32, 32), 2,
     {"ip_s_1": (2, 10), "ip_t_1": (2, 10)}, True),
    ("cifar10_nin", "ts_cifar10_nin.prototxt", (3, 32, 32), 2,
     {"pool3": (2, 10, 1, 1), "ip_s_1": (2, 10)}, True),
    ("examples", "cifar10_quick.prototxt", (3, 32, 32), 2, {"ip2": (2, 10)}, True),
    ("examples", "cifar10_full.prototxt", (3, 32, 32), 2, {"ip1": (2, 10)}, True),
    ("examples", "cifar10_nin.prototxt", (3, 32, 32), 2, {"pool3": (2, 10, 1, 1)}, True),
    ("examples", "kd_cifar10_quick_stacked.prototxt", (3, 32, 32), 2,
     {"ip_s2": (2, 10), "ip_t1": (2, 10), "kl": ()}, True),
    ("imagenet_alexnet_vgg16", "alexnet.prototxt", (3, 227, 227), 1,
     {"pool5": (1, 256, 6, 6), "fc8": (1, 1000)}, True),
    # VGG-16 forward in numpy takes far over 10 s: shapes from setup/reshape only (and,
    # each build filling 138M weights, vgg16_original2 / ts_vgg16_train_val2 -- the same
    # layers as vgg16_original / vgg16_train_val -- are left to the compare tests)
    ("imagenet_alexnet_vgg16", "vgg16_original.prototxt", (3, 224, 224), 1,
     {"pool5": (1, 512, 7, 7), "fc8": (1, 1000)}, False),
    ("imagenet_alexnet_vgg16", "vgg16_train_val.prototxt", (3, 224, 224), 1,
     {"fc_st_8": (1, 1000)}, False),
    ("imagenet_alexnet_vgg16", "vgg16_dummy.prototxt", (3, 224, 224), 1,
     {"pool_st_2": (1, 128, 56, 56)}, False),
    ("examples", "vgg16_bn.prototxt", (3, 224, 224), 1, {"fc8": (1, 1000)}, False),
]


@pytest.mark.parametrize("config,name,shape,batch,expect,forward", SHAPES,
                         ids=[s[1] for s in SHAPES])
def test_rendered_net_builds_with_caffe_shapes(config, name, shape, batch, expect, forward):
    net = _net(config, name, shape, batch)
    if forward:
        out = _run(net, 10)  # every net here has at least 10 classes
        for key, value in out.items():
            assert np.all(np.isfinite(value)), key
    for blob, want in expect.items():
        assert tuple(net.blobs[blob].shape) == want, blob


def test_vgg16_variants():
    """vgg16_msra is vgg16 with msra weight fillers; vgg16_bn adds BatchNorm + Scale."""
    def parse(name):
        return text_format.Parse(rendered("examples")[name], caffe_pb2.NetParameter())
    msra, bn = parse("vgg16_msra.prototxt"), parse("vgg16_bn.prototxt")
    convs = [layer for layer in msra.layer if layer.type == "Convolution"]
    assert len(convs) == 13
    assert {c.convolution_param.weight_filler.type for c in convs} == {"msra"}
    types = [layer.type for layer in bn.layer]
    assert types.count("BatchNorm") == types.count("Scale") == 13
    assert types[types.index("BatchNorm") - 1:types.index("BatchNorm") + 3] == \
        ["Convolution", "BatchNorm", "Scale", "ReLU"]


def test_ts_vgg16_shapes():
    """AlexNet teacher and VGG-16 student at 227 (the 2017 crop) both end in 1000 classes.
    Two 2017 quirks make Caffe (and our Net) refuse this file at Net init: four param specs
    on the teacher's two-blob fc layers, and ``propagate_down: false`` on a two-bottom loss.
    The shapes are checked on a copy without them."""
    from caffe_compat.net import Net
    from prototxt.netedit import swap_data_for_input
    param = text_format.Parse(rendered("imagenet_alexnet_vgg16")["ts_vgg16_train_val.prototxt"],
                              caffe_pb2.NetParameter())
    for layer in param.layer:
        del layer.propagate_down[:]
        del layer.param[2:]
    param = swap_data_for_input(param, (3, 227, 227), batch=1, phase=caffe_pb2.TEST)
    net = Net(param, caffe_pb2.TEST)
    assert tuple(net.blobs["pool5"].shape) == (1, 256, 6, 6)
    assert tuple(net.blobs["fc8"].shape) == (1, 1000)
    assert tuple(net.blobs["pool_st_5"].shape) == (1, 512, 8, 8)  # ceil-mode pooling of 227
    assert tuple(net.blobs["fc_st_8"].shape) == (1, 1000)
    assert tuple(net.blobs["soft_label"].shape) == (1, 1000)


def test_frozen_teacher_gets_no_gradient_in_ts_net():
    """lr_mult 0 from the template reaches the Net: the teacher's parameters are not learned."""
    from caffe_compat.net import Net
    from prototxt.netedit import swap_data_for_input
    param = text_format.Parse(rendered("cifar10_ts")["ts_cifar10_l0.1.prototxt"],
                              caffe_pb2.NetParameter())
    param = swap_data_for_input(param, (3, 32, 32), batch=2, phase=caffe_pb2.TRAIN)
    net = Net(param, caffe_pb2.TRAIN)
    lr = {layer.name: [p.lr_mult for p in layer.param] for layer in param.layer if layer.param}
    assert lr["conv_t_1"] == [0, 0] and lr["ip_s_1"] == [1, 2]
    assert "conv_t_1" in net.layer_dict and "conv_s_1" in net.layer_dict


# ----------------------------------------------------------------------------- errors

def _ts(**over):
    cfg = {"data": [{"name": "data", "phase": "TRAIN", "source": "x", "batch_size": 2}],
           "student": {"arch": "lenet", "tag": "_s"},
           "teacher": {"arch": "lenet", "tag": "_t", "frozen": True}, "lambda": 0.5}
    cfg.update(over)
    return {"nets": {"net": cfg}}


def test_unknown_arch_names_config_key():
    with pytest.raises(RenderError, match=r"nets\.net\.student\.arch: unknown architecture 'lenett'"):
        render_config(_ts(student={"arch": "lenett"}))


def test_bad_quirk_field_names_config_key():
    with pytest.raises(RenderError, match=r"nets\.net\.quirks\.conv_s1.*ConvolutionParameter has "
                                          r"no field 'strid'"):
        render_config(_ts(quirks={"conv_s1": {"convolution_param": {"strid": 2}}}))


def test_quirk_for_missing_layer_is_an_error():
    with pytest.raises(RenderError, match=r"nets\.net\.quirks: no layer named conv_x9"):
        render_config(_ts(quirks={"conv_x9": {"param": None}}))


def test_bad_value_and_unknown_keys():
    with pytest.raises(RenderError, match=r"pool.*not one of MAX, AVE, STOCHASTIC"):
        render_config(_ts(quirks={"pool_s1": {"pooling_param": {"pool": "MEAN"}}}))
    with pytest.raises(RenderError, match=r"nets\.net: unknown key\(s\) lamda"):
        render_config(_ts(lamda=0.5))
    with pytest.raises(RenderError, match=r"solvers\.s\.base_lrr: SolverParameter has no field"):
        render_config({"solvers": {"s": {"base_lrr": 0.1}}})
    with pytest.raises(RenderError, match=r"solvers\.s\.max_iter: expects an integer"):
        render_config({"solvers": {"s": {"max_iter": 1.5}}})


def _broken_templates(tmp_path, monkeypatch, arch_text):
    import shutil
    shutil.copytree(render.TEMPLATE_DIR, tmp_path / "t", ignore=shutil.ignore_patterns("configs"))
    (tmp_path / "t" / "arch" / "lenet.j2").write_text(arch_text)
    monkeypatch.setattr(render, "TEMPLATE_DIR", str(tmp_path / "t"))


def test_template_syntax_error_names_file_and_line(tmp_path, monkeypatch):
    _broken_templates(tmp_path, monkeypatch, "{% set m = member %}\n\n{% if m.tag %}\n")
    with pytest.raises(RenderError, match=r"arch/lenet\.j2:\d+"):
        render_net("n", _ts()["nets"]["net"])


def test_template_undefined_names_file_and_line(tmp_path, monkeypatch):
    _broken_templates(tmp_path, monkeypatch,
                      "{% set m = member %}\n{{ m.layer({'name': nonesuch}) }}\n")
    with pytest.raises(RenderError, match=r"arch/lenet\.j2:2.*nonesuch"):
        render_net("n", _ts()["nets"]["net"])


def test_cli_render_writes_validated_files(tmp_path):
    from solver.cli import main
    assert main(["render", "cifar10_nin", "-o", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ts_cifar10_nin.prototxt",
                                                         "ts_cifar10_nin_solver.prototxt"]
    assert (tmp_path / "ts_cifar10_nin.prototxt").read_text() == \
        rendered("cifar10_nin")["ts_cifar10_nin.prototxt"]
