"""tscaffe compare: semantic equality of nets and solvers, readable differences, exit codes."""

from prototxt.compare import compare_files
from solver.cli import main

from conftest import ORIGINAL, need

NET = """name: "n"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 1 dim: 8 dim: 8 } } }
layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 2 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  param { lr_mult: 1 } param { lr_mult: 2 }
  convolution_param { num_output: 4 kernel_size: 3 %s } }
layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1" inner_product_param { num_output: 10 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip1" bottom: "label" top: "loss" %s }
"""


def net(conv_extra="", loss_extra=""):
    return NET % (conv_extra, loss_extra)


def diff(a, b, **kw):
    return compare_files("A", "B", text_a=a, text_b=b, **kw)


def test_equal_and_defaults():
    assert diff(net(), net()) == []
    # unset == caffe.proto default
    assert diff(net(), net("group: 1 bias_term: true weight_filler { type: 'constant' }")) == []
    # a loss layer's implicit loss_weight is 1
    assert diff(net(), net(loss_extra="loss_weight: 1")) == []


def test_differences_are_listed_readably():
    d = diff(net("stride: 2"), net("stride: 1"))
    assert d == ["layer 2 'conv1' (Convolution):", "  convolution_param.stride: [2] != [1]"]
    d = diff(net(loss_extra="loss_weight: 0.5"), net())
    assert d == ["layer 4 'loss' (SoftmaxWithLoss):", "  loss_weight: [0.5] != [1]"]
    # presence-checked spellings stay visible: stride vs stride_h/stride_w
    d = diff(net("stride: 1"), net("stride_h: 1 stride_w: 1"))
    assert "  convolution_param.stride: [1] != (unset)" in d
    assert "  convolution_param.stride_h: (unset) != 1" in d


def test_inserted_layer_does_not_shift_the_rest():
    extra = net().replace('layer { name: "ip1"', 'layer { name: "relu1" type: "ReLU" '
                          'bottom: "conv1" top: "conv1" }\nlayer { name: "ip1"')
    assert diff(net(), extra) == ["only in B: layer 3 'relu1' (ReLU)"]


def test_ignore_names_compares_wiring():
    renamed = net().replace('"conv1"', '"conv_s1"').replace('"ip1"', '"ip_s1"')
    assert diff(net(), renamed) != []
    assert diff(net(), renamed, ignore_names=True) == []
    rewired = net().replace('bottom: "conv1" top: "ip1"', 'bottom: "data" top: "ip1"')
    assert diff(net(), rewired, ignore_names=True) != []


def test_v1_equals_current_format():
    v1 = """layers { name: "ip" type: INNER_PRODUCT bottom: "data" top: "ip"
      blobs_lr: 0 blobs_lr: 0 inner_product_param { num_output: 3 } }"""
    v2 = """layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
      param { lr_mult: 0 } param { lr_mult: 0 } inner_product_param { num_output: 3 } }"""
    assert diff(v1, v2) == []
    assert diff(v1, v2.replace("lr_mult: 0 }", "lr_mult: 1 }", 1)) != []


def test_solvers_and_ignore_paths():
    a = 'net: "a.prototxt"\nbase_lr: 0.01\nsnapshot_prefix: "x/"\nsolver_mode: CPU\n'
    b = 'net: "b.prototxt"\nbase_lr: 0.01\nsnapshot_prefix: "y/"\nsolver_type: SGD\n'
    d = diff(a, b)
    assert 'solver net: "a.prototxt" != "b.prototxt"' in d
    assert "solver solver_mode: CPU != GPU" in d  # caffe.proto's default mode is GPU
    assert not any("type" in x for x in d)  # solver_type SGD upgrades to the default type
    assert diff(a, b, ignore_paths=True) == ["solver solver_mode: CPU != GPU"]


def test_data_paths_ignored():
    a = """layer { name: "d" type: "Data" top: "data" data_param { source: "/a" batch_size: 4 }
      transform_param { mean_file: "/m1" } }"""
    b = a.replace("/a", "/b").replace("/m1", "/m2")
    assert len(diff(a, b)) == 3
    assert diff(a, b, ignore_paths=True) == []
    assert diff(a, b.replace("batch_size: 4", "batch_size: 5"), ignore_paths=True) == \
        ["layer 0 'd' (Data):", "  data_param.batch_size: 4 != 5"]


def test_cli_exit_codes(tmp_path, capsys):
    (tmp_path / "a.prototxt").write_text(net())
    (tmp_path / "b.prototxt").write_text(net("pad: 1"))
    (tmp_path / "bad.prototxt").write_text("layer { name: 'x' nonsense: 1 }")
    a, b, bad = (str(tmp_path / n) for n in ("a.prototxt", "b.prototxt", "bad.prototxt"))
    assert main(["compare", a, a]) == 0
    assert "are equal" in capsys.readouterr().out
    assert main(["compare", a, b]) == 1
    out = capsys.readouterr().out
    assert "convolution_param.pad: (unset) != [1]" in out and "1 difference(s)" in out
    assert main(["compare", a, bad]) == 2
    assert "bad.prototxt:1:" in capsys.readouterr().err
    assert main(["compare", a, str(tmp_path / "missing.prototxt")]) == 2


def test_original_v1_vgg_and_its_current_twin():
    """vgg16_original.prototxt (V1) vs vgg16_original2.prototxt (V1): the frozen fc layers and
    the train source are the differences."""
    a = need(ORIGINAL / "imagenet/alexnet-VGG/vgg16_original.prototxt")
    b = a.parent / "vgg16_original2.prototxt"
    d = compare_files(a, b, ignore_paths=True)
    assert d == ["layer 0 'data' (Data):", "  data_param.batch_size: 64 != 20",
                 "layer 33 'fc6' (InnerProduct):",
                 "  param: [{lr_mult: 0}, {lr_mult: 0}] != (unset)",
                 "layer 36 'fc7' (InnerProduct):",
                 "  param: [{lr_mult: 0}, {lr_mult: 0}] != (unset)",
                 "layer 39 'fc8' (InnerProduct):",
                 "  param: [{lr_mult: 0}, {lr_mult: 0}] != (unset)"]
    assert main(["compare", "-q", "--ignore-names", str(ORIGINAL / "mnist/teacher_lenet.prototxt"),
                 str(ORIGINAL / "mnist/ts_lenet_shell.prototxt")]) == 0
