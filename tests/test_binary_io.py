"""caffe_compat.io against the binary files real Caffe 1.0 wrote."""
import os

import numpy as np
import pytest

from caffe_compat import io as cio
from caffe_compat.errors import CaffeError, FormatError
from caffe_compat.proto import caffe_pb2
from conftest import CAFFE_REF, need

SOLVERS = CAFFE_REF / "solvers"
LAYERS = CAFFE_REF / "layers"
NETS = CAFFE_REF / "nets"
TRAINLOG = CAFFE_REF / "trainlog"
V1_NET = CAFFE_REF / "formats" / "v1_net"
MNIST = CAFFE_REF / "formats" / "mnist_lmdb"
# Learnable parameters of the solver nets, in the order of the .solverstate history.
SOLVER_PARAMS = ["conv_s1/0", "conv_s1/1", "conv_s2/0", "conv_s2/1",
                 "ip_s1/0", "ip_s1/1", "ip_s2/0", "ip_s2/1"]


def _dirs(root):
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def _keyed(arrays):
    return {f"{name}/{k}": arr for name, blobs in arrays.items() for k, arr in enumerate(blobs)}


# ---------------------------------------------------------------------------- caffemodels

def test_layer_case_weights_equal_npz():
    need(LAYERS)
    cases = _dirs(LAYERS)
    assert len(cases) > 40
    for case in cases:
        arrays = _keyed(cio.load_caffemodel_arrays(LAYERS / case / "weights.caffemodel"))
        npz = np.load(LAYERS / case / "case.npz")
        expected = {k[len("param/"):]: npz[k] for k in npz.files if k.startswith("param/")}
        assert arrays.keys() == expected.keys(), case
        for key, arr in arrays.items():
            assert arr.dtype == np.float32 and arr.shape == expected[key].shape, (case, key)
            np.testing.assert_array_equal(arr, expected[key], err_msg=f"{case} {key}")


def test_net_case_weights_match_param_shapes():
    need(NETS)
    for case in _dirs(NETS):
        arrays = _keyed(cio.load_caffemodel_arrays(NETS / case / "weights.caffemodel"))
        npz = np.load(NETS / case / "case.npz")
        # these cases store no parameter values, but every parameter's gradient
        shapes = {k[len("paramdiff/"):]: npz[k].shape for k in npz.files
                  if k.startswith("paramdiff/")}
        assert {k: a.shape for k, a in arrays.items()} == shapes, case
        assert all(np.isfinite(a).all() and a.std() > 0 for a in arrays.values())


@pytest.mark.parametrize("variant", _dirs(SOLVERS) or ["(no ../shared)"])
def test_solver_snapshot_and_state(variant):
    folder = need(SOLVERS / variant)
    traj = np.load(folder / "trajectory.npz")
    n = int(traj["iter"])
    arrays = _keyed(cio.load_caffemodel_arrays(folder / f"snap_iter_{n}.caffemodel"))
    assert list(arrays) == SOLVER_PARAMS
    for key in SOLVER_PARAMS:
        np.testing.assert_array_equal(arrays[key], traj[f"param/{key}"], err_msg=key)
    init = _keyed(cio.load_caffemodel_arrays(folder / "init.caffemodel"))
    assert {k: a.shape for k, a in init.items()} == {k: a.shape for k, a in arrays.items()}

    state = cio.read_solverstate(folder / f"snap_iter_{n}.solverstate")
    assert state.iter == int(traj["solverstate/iter"]) == n
    assert state.current_step == int(traj["solverstate/current_step"])
    assert state.learned_net == f"snap_iter_{n}.caffemodel"
    history = cio.solverstate_history(state)
    sets = ["history"] + (["history2"] if f"history2/{SOLVER_PARAMS[0]}" in traj.files else [])
    assert len(history) == len(sets) * len(SOLVER_PARAMS)
    for s, prefix in enumerate(sets):
        for i, key in enumerate(SOLVER_PARAMS):
            np.testing.assert_array_equal(history[s * len(SOLVER_PARAMS) + i],
                                          traj[f"{prefix}/{key}"], err_msg=f"{prefix}/{key}")


def test_trainlog_files_load():
    need(TRAINLOG)
    snap = cio.load_caffemodel_arrays(TRAINLOG / "lenet_iter_60.caffemodel")
    init = cio.load_caffemodel_arrays(TRAINLOG / "init.caffemodel")
    assert list(snap) == list(init) == ["conv1", "conv2", "ip1", "ip2", "ip_aux"]
    state = cio.read_solverstate(TRAINLOG / "lenet_iter_60.solverstate")
    assert (state.iter, state.learned_net) == (60, "lenet_iter_60.caffemodel")
    shapes = [a.shape for blobs in snap.values() for a in blobs]
    assert [h.shape for h in cio.solverstate_history(state)] == shapes
    # 60 SGD steps moved the weights
    assert not np.array_equal(snap["ip1"][0], init["ip1"][0])


def test_v1_weights_load_to_expected_arrays():
    need(V1_NET)
    expected = np.load(V1_NET / "expected.npz")
    net = cio.read_net_binary(V1_NET / "v1_weights.caffemodel")
    assert len(net.layers) == 0
    loaded = {}
    for layer in net.layer:
        for k, blob in enumerate(layer.blobs):
            key = f"param/{layer.name}/{k}"
            loaded[key] = cio.blob_to_array(blob, expected_shape=expected[key].shape,
                                            where=key)
    assert loaded.keys() == {k for k in expected.files if k.startswith("param/")}
    for key, arr in loaded.items():
        assert arr.shape == expected[key].shape
        np.testing.assert_array_equal(arr, expected[key], err_msg=key)
    # Without the net's shapes the legacy dims stay: IP weight 1 x 1 x N x K.
    raw = cio.load_caffemodel_arrays(V1_NET / "v1_weights.caffemodel")
    assert raw["fc1"][0].shape == (1, 1, 20, 864) and raw["fc1"][1].shape == (1, 1, 1, 20)


def test_legacy_shape_rule_is_caffes():
    blob = caffe_pb2.BlobProto(num=1, channels=1, height=2, width=3)
    blob.data.extend(range(6))
    assert cio.blob_to_array(blob, expected_shape=(2, 3)).shape == (2, 3)
    assert cio.blob_to_array(blob, expected_shape=(1, 2, 3)).shape == (1, 2, 3)
    # Same count, other legacy dims: Caffe refuses
    with pytest.raises(FormatError) as info:
        cio.blob_to_array(blob, expected_shape=(3, 2), where="layer 'fc' blob 0")
    assert str(info.value) == ("layer 'fc' blob 0: shape mismatch. Source param shape is "
                               "1 1 2 3 (6); target param shape is 3 2 (6)")
    shaped = cio.array_to_blob(np.zeros((2, 3), np.float32))
    with pytest.raises(FormatError, match="Source param shape is 2 3 \\(6\\); target param "
                                          "shape is 1 1 2 3"):
        cio.blob_to_array(shaped, expected_shape=(1, 1, 2, 3))


def test_double_data_blob():
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend([2])
    blob.double_data.extend([0.1, 1e-300])
    arr = cio.blob_to_array(blob)
    assert arr.dtype == np.float64 and arr.tolist() == [0.1, 1e-300]


# ---------------------------------------------------------------------------- writing

def test_written_blobs_are_caffes_bytes():
    """array_to_blob serializes exactly as Caffe's Blob::ToProto did."""
    need(SOLVERS)
    net = cio.read_net_binary(SOLVERS / "sgd_inv" / "snap_iter_30.caffemodel")
    for layer in net.layer:
        for blob in layer.blobs:
            ours = cio.array_to_blob(cio.blob_to_array(blob))
            assert ours.SerializeToString() == blob.SerializeToString()


def test_solverstate_written_is_caffes_bytes(tmp_path):
    path = need(SOLVERS / "adam" / "snap_iter_30.solverstate")
    state = cio.read_solverstate(path)
    ours = cio.make_solverstate(state.iter, cio.solverstate_history(state),
                                state.current_step, state.learned_net)
    out = tmp_path / "x.solverstate"
    cio.write_solverstate(out, ours)
    assert out.read_bytes() == path.read_bytes()
    assert cio.read_solverstate(out) == state


def test_caffemodel_roundtrip(tmp_path):
    src = need(SOLVERS / "nesterov" / "snap_iter_30.caffemodel")
    net = cio.read_net_binary(src)
    # A NetParameter is written as is: same bytes as Caffe's file.
    out = tmp_path / "copy.caffemodel"
    cio.save_caffemodel(out, net)
    assert out.read_bytes() == src.read_bytes()
    # From arrays: name -> (type, arrays), in order, layers without blobs too.
    layers = {layer.name: (layer.type, [cio.blob_to_array(b) for b in layer.blobs])
              for layer in net.layer}
    out2 = tmp_path / "arrays.caffemodel"
    written = cio.save_caffemodel(out2, layers, name="lenet")
    back = cio.read_net_binary(out2)
    assert back == written
    assert [(layer.name, layer.type) for layer in back.layer] == \
        [(layer.name, layer.type) for layer in net.layer]
    a, b = cio.load_caffemodel_arrays(src), cio.load_caffemodel_arrays(out2)
    assert list(a) == list(b)
    for name in a:
        for x, y in zip(a[name], b[name]):
            np.testing.assert_array_equal(x, y)
    # Writing what we read gives the same bytes again.
    out3 = tmp_path / "again.caffemodel"
    cio.save_caffemodel(out3, cio.read_net_binary(out2))
    assert out3.read_bytes() == out2.read_bytes()


def test_array_to_blob_fast_path_equals_plain_protobuf():
    arr = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    diff = -arr
    plain = caffe_pb2.BlobProto()
    plain.shape.dim.extend([3, 4, 5])
    plain.data.extend(arr.ravel().tolist())
    plain.diff.extend(diff.ravel().tolist())
    assert cio.array_to_blob(arr, diff=diff) == plain
    empty = cio.array_to_blob(np.zeros((0, 3), np.float32))
    assert list(empty.shape.dim) == [0, 3] and len(empty.data) == 0
    scalar = cio.array_to_blob(np.float64(2.5))
    assert not scalar.HasField("shape")
    assert cio.blob_to_array(scalar).shape == () and float(cio.blob_to_array(scalar)) == 2.5


def test_atomic_write(tmp_path):
    target = tmp_path / "snap.caffemodel"
    cio.atomic_write_bytes(target, b"first")
    cio.atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(TypeError):
        cio.atomic_write_bytes(target, "not bytes")
    assert target.read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["snap.caffemodel"]


# ---------------------------------------------------------------------------- mean files

def test_mean_binaryproto():
    path = need(MNIST / "mean.binaryproto")
    mean = cio.read_binaryproto(path)
    expected = np.load(MNIST / "expected.npz")["mean"]
    assert mean.shape == (1, 1, 28, 28) and mean.dtype == np.float32
    np.testing.assert_array_equal(mean[0], expected)
    assert cio.check_mean_shape(mean, (1, 28, 28), path) == (1, 28, 28)
    assert cio.check_mean_shape(mean, (64, 1, 28, 28)) == (1, 28, 28)


def test_mean_of_wrong_shape(tmp_path):
    mean = np.zeros((1, 3, 32, 32), np.float32)
    path = tmp_path / "mean.binaryproto"
    cio.write_binaryproto(path, mean)
    back = cio.read_binaryproto(path)
    np.testing.assert_array_equal(back, mean)
    with pytest.raises(FormatError) as info:
        cio.check_mean_shape(back, (64, 1, 28, 28), path)
    msg = str(info.value)
    assert str(path) in msg
    assert "1 3 32 32 (3072)" in msg and "64 1 28 28 (50176)" in msg
    with pytest.raises(FormatError):
        cio.check_mean_shape(np.zeros((2, 1, 28, 28)), (1, 28, 28))


# ---------------------------------------------------------------------------- bad files

@pytest.fixture
def model_bytes():
    return need(NETS / "ts_lenet" / "weights.caffemodel").read_bytes()


def _expect_format_error(path, reader, *phrases):
    with pytest.raises(FormatError) as info:
        reader(path)
    msg = str(info.value)
    assert isinstance(info.value, CaffeError)
    assert str(path) in msg, msg
    for phrase in phrases:
        assert phrase in msg, msg
    return msg


def test_garbage_caffemodel(tmp_path):
    path = tmp_path / "garbage.caffemodel"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes())
    _expect_format_error(path, cio.read_net_binary, "not a valid caffemodel",
                         "truncated or corrupt")


@pytest.mark.parametrize("fraction", [0.5, 0.999])
def test_truncated_caffemodel(tmp_path, model_bytes, fraction):
    path = tmp_path / "cut.caffemodel"
    path.write_bytes(model_bytes[:int(len(model_bytes) * fraction)])
    _expect_format_error(path, cio.load_caffemodel_arrays, "not a valid caffemodel")


def test_caffemodel_cut_before_first_layer(tmp_path, model_bytes):
    net = caffe_pb2.NetParameter()
    net.ParseFromString(model_bytes)
    head = len(caffe_pb2.NetParameter(name=net.name).SerializeToString())
    path = tmp_path / "cut.caffemodel"
    path.write_bytes(model_bytes[:head])  # parses, but holds nothing
    _expect_format_error(path, cio.read_net_binary, "holds no layers")


def test_blob_with_missing_values(tmp_path):
    net = caffe_pb2.NetParameter()
    layer = net.layer.add(name="ip", type="InnerProduct")
    blob = layer.blobs.add()
    blob.shape.dim.extend([4, 5])
    blob.data.extend([0.0] * 19)
    path = tmp_path / "short.caffemodel"
    path.write_bytes(net.SerializeToString())
    _expect_format_error(path, cio.read_net_binary, "layer 'ip' blob 0",
                         "4 5 (20)", "holds 19 data values")


def test_wrong_kind_of_file(tmp_path):
    text = tmp_path / "net.caffemodel"
    text.write_text('name: "x"\nlayer { name: "a" type: "ReLU" }\n')
    _expect_format_error(text, cio.read_net_binary, "not a valid caffemodel")
    _expect_format_error(tmp_path / "missing.caffemodel", cio.read_net_binary, "not found")
    empty = tmp_path / "empty.caffemodel"
    empty.write_bytes(b"")
    _expect_format_error(empty, cio.read_net_binary, "empty file")
    _expect_format_error(tmp_path, cio.read_net_binary, "is a directory")


def test_solverstate_and_caffemodel_not_confused():
    state = need(SOLVERS / "sgd_inv" / "snap_iter_30.solverstate")
    model = SOLVERS / "sgd_inv" / "snap_iter_30.caffemodel"
    _expect_format_error(state, cio.read_net_binary, "not a valid caffemodel")
    _expect_format_error(model, cio.read_solverstate, "not a valid solverstate")
