"""caffe_compat/proto: drift check, Caffe 1.0 schema facts, and real-file parsing."""
import importlib.util
import tempfile
from pathlib import Path

import pytest
from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor as FD

from caffe_compat.proto import caffe_pb2 as pb

from conftest import CAFFE_REF, ORIGINAL, need

PROTO_DIR = Path(__file__).resolve().parent.parent / "caffe_compat" / "proto"

# Files that real Caffe 1.0 also rejects; they must keep failing with our schema.
#   ts_vgg16_train_val.prototxt puts `param { lr_mult }` inside convolution_param.
KNOWN_INVALID = {"imagenet/alexnet-VGG/ts_vgg16_train_val.prototxt"}


# ----------------------------------------------------------------- (a) drift

def test_caffe_pb2_matches_caffe_proto():
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpc_tools not importable (pip install grpcio-tools)")
    from caffe_compat.proto import regenerate

    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(regenerate.generate(tmp)).read_bytes()
    committed = (PROTO_DIR / "caffe_pb2.py").read_bytes()
    assert fresh == committed, "caffe_pb2.py is stale: python -m caffe_compat.proto.regenerate"


# ----------------------------------------------------------------- (b) facts

def field(msg, name):
    return getattr(pb, msg).DESCRIPTOR.fields_by_name[name]


@pytest.mark.parametrize("msg,name,number", [
    ("NetParameter", "layer", 100),
    ("NetParameter", "layers", 2),
    ("NetParameter", "input_dim", 4),
    ("NetParameter", "input_shape", 8),
    ("LayerParameter", "convolution_param", 106),
    ("LayerParameter", "transform_param", 100),
    ("LayerParameter", "loss_param", 101),
    ("LayerParameter", "batch_norm_param", 139),
    ("LayerParameter", "input_param", 143),
    ("LayerParameter", "recurrent_param", 146),
    ("LayerParameter", "propagate_down", 11),
    ("LayerParameter", "phase", 10),
    ("SolverParameter", "net", 24),
    ("SolverParameter", "test_initialization", 32),
    ("SolverParameter", "iter_size", 36),
    ("SolverParameter", "snapshot_format", 37),
    ("SolverParameter", "type", 40),
    ("SolverParameter", "layer_wise_reduce", 41),
    ("SolverParameter", "weights", 42),
    ("SolverParameter", "solver_type", 30),
    ("BlobProto", "shape", 7),
    ("BlobProto", "double_data", 8),
    ("V1LayerParameter", "layer", 1),
    ("V1LayerParameter", "blobs_lr", 7),
    ("V1LayerParameter", "param", 1001),
    ("V0LayerParameter", "hdf5_output_param", 1001),
    ("ConvolutionParameter", "dilation", 18),
    ("ConvolutionParameter", "stride", 6),
])
def test_field_numbers(msg, name, number):
    assert field(msg, name).number == number


@pytest.mark.parametrize("msg,name,default", [
    ("SolverParameter", "snapshot_format", pb.SolverParameter.BINARYPROTO),
    ("SolverParameter", "solver_mode", pb.SolverParameter.GPU),
    ("SolverParameter", "type", "SGD"),
    ("SolverParameter", "regularization_type", "L2"),
    ("SolverParameter", "clip_gradients", -1.0),
    ("SolverParameter", "random_seed", -1),
    ("SolverParameter", "average_loss", 1),
    ("SolverParameter", "test_initialization", True),
    ("SolverParameter", "snapshot_after_train", True),
    ("PoolingParameter", "pool", pb.PoolingParameter.MAX),
    ("PoolingParameter", "stride", 1),
    ("PoolingParameter", "round_mode", pb.PoolingParameter.CEIL),
    ("LRNParameter", "local_size", 5),
    ("LRNParameter", "alpha", 1.0),
    ("LRNParameter", "beta", 0.75),
    ("LRNParameter", "k", 1.0),
    ("DropoutParameter", "dropout_ratio", 0.5),
    ("ConvolutionParameter", "bias_term", True),
    ("ConvolutionParameter", "group", 1),
    ("FillerParameter", "type", "constant"),
    ("FillerParameter", "std", 1.0),
    ("FillerParameter", "sparse", -1),
    ("BatchNormParameter", "eps", pytest.approx(1e-5)),
    ("BatchNormParameter", "moving_average_fraction", pytest.approx(0.999)),
    ("LossParameter", "normalization", pb.LossParameter.VALID),
    ("EltwiseParameter", "operation", pb.EltwiseParameter.SUM),
    ("ParamSpec", "lr_mult", 1.0),
    ("CropParameter", "axis", 2),
    ("ReshapeParameter", "num_axes", -1),
    ("DataParameter", "prefetch", 4),
    ("NetState", "phase", pb.TEST),
    ("MVNParameter", "eps", pytest.approx(1e-9)),
])
def test_defaults(msg, name, default):
    assert getattr(getattr(pb, msg)(), name) == default


def test_float_defaults_exact_as_float32():
    s = pb.SolverParameter()
    # float fields: compare at float32 precision
    import struct
    f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
    assert s.delta == f32(1e-8)
    assert s.momentum2 == f32(0.999)
    assert s.rms_decay == f32(0.99)


def _repeated(f):
    return f.is_repeated if hasattr(f, "is_repeated") else f.label == FD.LABEL_REPEATED


def _required(f):
    return f.is_required if hasattr(f, "is_required") else f.label == FD.LABEL_REQUIRED


def _packed(f):
    return f.is_packed if hasattr(f, "is_packed") else f.GetOptions().packed


def test_labels_and_types():
    for name in ("kernel_size", "pad", "stride", "dilation"):
        f = field("ConvolutionParameter", name)
        assert _repeated(f) and f.type == FD.TYPE_UINT32
    for name in ("kernel_size", "pad", "stride"):
        assert not _repeated(field("PoolingParameter", name))
    assert field("SolverParameter", "lr_policy").type == FD.TYPE_STRING
    assert _repeated(field("SolverParameter", "test_iter"))
    assert _repeated(field("SolverParameter", "stepvalue"))
    assert field("SolverParameter", "random_seed").type == FD.TYPE_INT64
    assert field("BlobShape", "dim").type == FD.TYPE_INT64
    assert field("BlobProto", "num").type == FD.TYPE_INT32
    for msg, name in [("BlobShape", "dim"), ("BlobProto", "data"), ("BlobProto", "diff"),
                      ("BlobProto", "double_data"), ("BlobProto", "double_diff")]:
        assert _packed(field(msg, name)), (msg, name)
    assert not _packed(field("Datum", "float_data"))
    assert not _packed(field("ConvolutionParameter", "kernel_size"))
    assert _required(field("ClipParameter", "min"))


def test_enums():
    assert pb.FillerParameter.VarianceNorm.Value("AVERAGE") == 2
    assert pb.SolverParameter.SolverType.Value("ADAM") == 5
    assert pb.SolverParameter.SnapshotFormat.Value("HDF5") == 0
    assert pb.ParamSpec.PERMISSIVE == 1
    assert pb.HingeLossParameter.L1 == 1
    assert pb.ReductionParameter.MEAN == 4
    assert pb.V1LayerParameter.CONVOLUTION == 4
    assert pb.V1LayerParameter.DECONVOLUTION == 39
    assert pb.V1LayerParameter.ABSVAL == 35
    assert pb.V1LayerParameter.SOFTMAX_LOSS == 21
    assert pb.TRAIN == 0 and pb.TEST == 1


# ----------------------------------------------------------------- (c), (d) real files

def _parse_text(path):
    msg = pb.SolverParameter() if "solver" in path.name else pb.NetParameter()
    text_format.Merge(path.read_text(), msg)
    return msg


def _prototxts(root):
    return sorted(p for p in root.rglob("*.prototxt"))


def test_original_prototxts_parse():
    root = need(ORIGINAL)
    files = _prototxts(root)
    assert files
    for p in files:
        rel = p.relative_to(root).as_posix()
        if rel in KNOWN_INVALID:
            with pytest.raises(text_format.ParseError):
                _parse_text(p)
        else:
            _parse_text(p)


def test_reference_prototxts_parse():
    root = need(CAFFE_REF)
    files = _prototxts(root)
    assert files
    for p in files:
        _parse_text(p)
    for p in sorted(root.glob("solvers/*/solver.prototxt")):
        s = _parse_text(p)
        assert isinstance(s, pb.SolverParameter)


def test_reference_binaries_parse():
    root = need(CAFFE_REF)
    models = sorted(root.rglob("*.caffemodel"))
    states = sorted(root.rglob("*.solverstate"))
    assert models and states
    for p in models:
        pb.NetParameter.FromString(p.read_bytes())
    for p in states:
        pb.SolverState.FromString(p.read_bytes())


def test_v1_weights_use_v1_layers():
    p = need(CAFFE_REF / "formats" / "v1_net" / "v1_weights.caffemodel")
    net = pb.NetParameter.FromString(p.read_bytes())
    assert len(net.layers) > 0 and len(net.layer) == 0
    assert any(l.blobs for l in net.layers)
