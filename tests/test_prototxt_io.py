"""prototxt.io: reading the original experiment's files, canonical writing, clear errors."""
from pathlib import Path

import pytest

from caffe_compat.errors import CaffeError
from caffe_compat.proto import caffe_pb2
from conftest import CAFFE_REF, ORIGINAL, need
from prototxt import (PrototxtError, parse_net, parse_solver, read_net, read_solver, to_text,
                      write_prototxt)

# This file of the 2017 experiment never parsed in Caffe either: it puts `param { lr_mult }`
# inside convolution_param (line 368). It must fail with a precise message instead.
BROKEN_ORIGINAL = "imagenet/alexnet-VGG/ts_vgg16_train_val.prototxt"


def _original_files():
    if not ORIGINAL.exists():
        return []
    return sorted(p.relative_to(ORIGINAL).as_posix() for p in ORIGINAL.rglob("*.prototxt"))


def _reader(rel):
    return (read_solver, parse_solver) if "solver" in Path(rel).name else (read_net, parse_net)


@pytest.mark.parametrize("rel", [f for f in _original_files() if f != BROKEN_ORIGINAL]
                         or ["(no ../shared/original)"])
def test_original_prototxt_parses_and_roundtrips(rel):
    path = need(ORIGINAL / rel)
    read, parse = _reader(rel)
    message = read(path)
    if read is read_net:
        assert len(message.layer) > 0 and len(message.layers) == 0
    else:
        assert message.HasField("net") or message.HasField("train_net")
    text = to_text(message)
    again = parse(text)
    assert again == message
    assert to_text(again) == text


def test_original_files_are_all_seen():
    need(ORIGINAL)
    files = _original_files()
    assert len(files) >= 20 and BROKEN_ORIGINAL in files


def test_broken_original_gives_located_error():
    path = need(ORIGINAL / BROKEN_ORIGINAL)
    with pytest.raises(PrototxtError) as info:
        read_net(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:368:5: ")
    assert "unknown field 'param'" in msg and "caffe.ConvolutionParameter" in msg
    assert "(in layer 'conv_st_1_1')" in msg
    assert info.value.line == 368 and info.value.column == 5
    assert info.value.layer == "conv_st_1_1"


def test_reference_prototxts_roundtrip():
    root = need(CAFFE_REF)
    paths = sorted(root.rglob("*.prototxt"))
    assert paths
    for path in paths:
        read, parse = _reader(path.name)
        message = read(path)
        assert parse(to_text(message)) == message, path


def test_to_text_prints_like_cpp_textformat():
    net = caffe_pb2.NetParameter(name="n")
    layer = net.layer.add(name="c", type="Convolution")
    layer.param.add(lr_mult=1, decay_mult=0)
    layer.convolution_param.weight_filler.std = 0.01
    layer.transform_param.scale = 0.00392156885937
    layer.transform_param.mean_file = 'a "quoted" path'
    layer.pooling_param.pool = caffe_pb2.PoolingParameter.AVE
    net.force_backward = True
    layer.dummy_data_param.data_filler.add(value=123456789.0)
    text = to_text(net)
    assert "  param {\n    lr_mult: 1\n    decay_mult: 0\n  }\n" in text
    assert "std: 0.01\n" in text
    # %.6g does not give the float back, so C++ prints %.9g
    assert "scale: 0.00392156886\n" in text
    assert 'mean_file: "a \\"quoted\\" path"\n' in text
    assert "pool: AVE\n" in text and "force_backward: true\n" in text
    assert "value: 123456792\n" in text
    assert parse_net(text) == net


def test_write_prototxt_atomic(tmp_path):
    solver = caffe_pb2.SolverParameter(net="n.prototxt", base_lr=0.01, type="Adam")
    out = tmp_path / "s.prototxt"
    write_prototxt(out, solver)
    # field-number order, as C++ TextFormat writes: base_lr = 5, net = 24, type = 40
    assert out.read_text() == 'base_lr: 0.01\nnet: "n.prototxt"\ntype: "Adam"\n'
    assert read_solver(out) == solver
    assert [p.name for p in tmp_path.iterdir()] == ["s.prototxt"]


# ---------------------------------------------------------------------------- errors

def _net_error(text, tmp_path, name="net.prototxt"):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PrototxtError) as info:
        read_net(path)
    assert isinstance(info.value, CaffeError)
    return str(info.value), path


def test_unknown_field(tmp_path):
    msg, path = _net_error('name: "x"\nlayer {\n  name: "c1"\n  type: "Convolution"\n'
                           '  foo: 3\n}\n', tmp_path)
    assert msg == (f"{path}:5:3: unknown field 'foo' in caffe.LayerParameter "
                   "(in layer 'c1')")


def test_unknown_field_layer_named_after_error(tmp_path):
    msg, _ = _net_error('layer {\n  type: "ReLU"\n  bottom: "x"\n  top: "x"\n'
                        '  relu_param { slope: 1 }\n  name: "late"\n}\n', tmp_path)
    assert ":5:16: unknown field 'slope' in caffe.ReLUParameter (in layer 'late')" in msg


def test_layer_name_skips_comments_and_strings(tmp_path):
    msg, _ = _net_error('layer { # a { brace "in a comment\n  name: "a{b"\n'
                        '  top: "}"\n  bad_field: 1\n}\n', tmp_path)
    assert ":4:3: unknown field 'bad_field'" in msg and "(in layer 'a{b')" in msg


def test_unnamed_layer_is_numbered(tmp_path):
    msg, _ = _net_error('layer { name: "a" type: "ReLU" }\nlayer {\n  type: "ReLU"\n'
                        '  what: 1\n}\n', tmp_path)
    assert ":4:3: unknown field 'what'" in msg and "(in layer #2, which has no name)" in msg


def test_bad_enum_value(tmp_path):
    msg, path = _net_error('layer {\n  name: "pool1"\n  type: "Pooling"\n'
                           '  pooling_param { pool: MAXIMUM kernel_size: 2 }\n}\n', tmp_path)
    assert msg.startswith(f"{path}:4:25: invalid value 'MAXIMUM' for field 'pool'")
    assert "caffe.PoolingParameter.PoolMethod" in msg and "valid: MAX, AVE, STOCHASTIC" in msg
    assert msg.endswith("(in layer 'pool1')")


def test_truncated_text(tmp_path):
    msg, path = _net_error('name: "t"\nlayer {\n  name: "conv1"\n  convolution_param {\n'
                           '    num_output: 4\n', tmp_path)
    assert msg.startswith(f"{path}:5:")
    assert "unexpected end of file" in msg and "missing '}'" in msg
    assert "'layer' opened at line 2:7" in msg
    assert "'convolution_param' opened at line 4:21" in msg
    assert "(in layer 'conv1')" in msg


def test_missing_brace_in_the_middle(tmp_path):
    msg, _ = _net_error('layer {\n  name: "a"\n  type: "ReLU"\n\nlayer {\n  name: "b"\n}\n',
                        tmp_path)
    assert ":5:1: unknown field 'layer' in caffe.LayerParameter" in msg
    assert "'}' is probably missing" in msg and "(in layer 'a')" in msg


def test_extra_closing_brace(tmp_path):
    msg, _ = _net_error('layer {\n  name: "a"\n}\n}\n', tmp_path)
    assert ":4:1: unbalanced '}'" in msg


def test_number_where_string_belongs(tmp_path):
    msg, _ = _net_error('layer {\n  name: "ip"\n  type: "InnerProduct"\n  bottom: 7\n}\n',
                        tmp_path)
    assert ":4:11: field 'bottom' expects a quoted string, got '7'" in msg
    assert "(in layer 'ip')" in msg


def test_string_where_number_belongs(tmp_path):
    msg, _ = _net_error('layer {\n  name: "ip"\n  inner_product_param {\n'
                        '    num_output: "ten"\n  }\n}\n', tmp_path)
    assert ':4:17: field \'num_output\' expects an integer, got "ten"' in msg
    assert "(in layer 'ip')" in msg
    msg, _ = _net_error('layer {\n  name: "d"\n  dropout_param { dropout_ratio: "half" }\n}\n',
                        tmp_path)
    assert ":3:34: field 'dropout_ratio' expects a number, got \"half\"" in msg
    msg, _ = _net_error('force_backward: yes\n', tmp_path)
    assert ":1:17: field 'force_backward' expects true or false, got yes" in msg


def test_negative_unsigned_and_duplicate(tmp_path):
    msg, _ = _net_error('layer {\n  name: "c"\n  convolution_param { num_output: -4 }\n}\n',
                        tmp_path)
    assert ":3:35: value -4 out of range for field 'num_output'" in msg
    msg, _ = _net_error('name: "a"\nname: "b"\n', tmp_path)
    assert ":2:7: field 'name' given more than once" in msg


def test_solver_file_read_as_net(tmp_path):
    msg, path = _net_error('net: "train_val.prototxt"\nbase_lr: 0.01\n', tmp_path,
                           "lenet_solver.prototxt")
    assert msg.startswith(f"{path}:1:1: unknown field 'net' in caffe.NetParameter")
    assert "looks like a solver prototxt" in msg


def test_net_file_read_as_solver(tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text('name: "n"\nlayer { name: "a" }\n')
    with pytest.raises(PrototxtError) as info:
        read_solver(path)
    assert str(info.value).startswith(f"{path}:1:1: unknown field 'name' in "
                                      "caffe.SolverParameter")
    assert "looks like a net prototxt" in str(info.value)


def test_v1_syntax_in_layer_block_hint(tmp_path):
    msg, _ = _net_error('layer {\n  name: "c"\n  blobs_lr: 1\n}\n', tmp_path)
    assert "unknown field 'blobs_lr'" in msg and "lr_mult" in msg


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(PrototxtError, match="file not found"):
        read_net(tmp_path / "nope.prototxt")
    binary = tmp_path / "w.caffemodel"
    binary.write_bytes(b"\x0a\x03abc\xff\xfe\x00")
    with pytest.raises(PrototxtError, match="not a text prototxt"):
        read_net(binary)
