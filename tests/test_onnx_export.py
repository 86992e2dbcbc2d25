"""ONNX export parity: onnxruntime on the exported graph equals our numpy forward (which the
layer tests tie to Caffe's numbers) within 1e-5 relative, for every exportable reference
case and for the 2017 LeNet and CIFAR-10 nets."""
import os

import numpy as np
import onnxruntime as ort
import pytest

import caffe_compat as caffe
from caffe_compat.onnx_export import ExportError, export_onnx
from conftest import CAFFE_REF, ORIGINAL, need
from prototxt import read_net
from prototxt.netedit import swap_data_for_input

# Cases whose only outputs are losses / accuracies / the input itself, or that need batch
# statistics: nothing a deployed model would compute. Each must still fail clearly.
NOT_EXPORTABLE = {
    "accuracy_top1", "accuracy_top5", "euclidean", "sce_logits", "sce_probs",
    "sce_softmax_chain", "sce_valid_ignore", "swl_basic", "swl_batch_size", "swl_full",
    "swl_none", "swl_valid_ignore", "batchnorm_train",
}


def cases():
    if not CAFFE_REF.exists():
        return ["absent"]
    return sorted(f"{kind}/{c}" for kind in ("layers", "nets") for c in os.listdir(CAFFE_REF / kind))


def run_onnx(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def assert_parity(net, path, outputs=None):
    model = export_onnx(net, str(path), outputs=outputs)
    feeds = {i.name: net.blobs[i.name].data.astype(np.float32) for i in model.graph.input}
    got = run_onnx(path, feeds)
    assert got
    for name, value in got.items():
        ref = net.blobs[name].data
        err = np.max(np.abs(value - ref)) / max(np.max(np.abs(ref)), 1e-12)
        assert err <= 1e-5, f"{name}: relative difference {err:.2e}"
    return got


@pytest.mark.parametrize("case", cases())
def test_reference_case_parity(case, tmp_path):
    folder = need(CAFFE_REF / case)
    z = np.load(folder / "case.npz")
    net = caffe.Net(str(folder / "net.prototxt"), caffe.TEST)
    if (folder / "weights.caffemodel").exists():
        net.copy_from(str(folder / "weights.caffemodel"))
    else:
        rng = np.random.default_rng(0)
        for blobs in net.params.values():
            for b in blobs:
                b.data[...] = rng.normal(0, 0.1, b.shape)
    for key in z.files:
        if key.startswith("in/"):
            net.blobs[key[3:]].data[...] = z[key]
    net.forward()
    outputs = [o for o in net.outputs if net.blobs[o].data.ndim > 0 and o not in net.inputs]
    name = folder.name
    if name in NOT_EXPORTABLE:
        with pytest.raises(ExportError):
            export_onnx(net, str(tmp_path / "m.onnx"), outputs=outputs or None)
        return
    assert_parity(net, tmp_path / "m.onnx", outputs or None)


# sample shape, logits width (the 2017 LeNet files have ip2 with 100 outputs for 10 digits)
ORIGINAL_NETS = {
    "mnist/teacher_lenet.prototxt": ((1, 28, 28), 100),
    "mnist/student_lenet.prototxt": ((1, 28, 28), 100),
    "mnist/ts_lenet.prototxt": ((1, 28, 28), 100),
    "cifar10/ts_cifar10.prototxt": ((3, 32, 32), 10),
    "cifar10/models/cifar10_mini.prototxt": ((3, 32, 32), 10),
    "cifar10/models/ts_cifar10_mini.prototxt": ((3, 32, 32), 10),
    "cifar10/models/ts_cifar10_nin.prototxt": ((3, 32, 32), 10),
}


@pytest.mark.parametrize("rel", sorted(ORIGINAL_NETS))
def test_original_nets_parity(rel, tmp_path):
    path = need(ORIGINAL / rel)
    shape, classes = ORIGINAL_NETS[rel]
    param = swap_data_for_input(read_net(str(path)), shape, batch=4, phase=caffe.TEST)
    caffe.set_random_seed(1)
    net = caffe.Net(param, caffe.TEST)
    rng = np.random.default_rng(2)
    for blobs in net.params.values():
        for b in blobs:
            if not b.data.any():
                b.data[...] = rng.normal(0, 0.05, b.shape)
    net.blobs["data"].data[...] = rng.uniform(-1, 1, net.blobs["data"].shape)
    if "label" in net.blobs:
        net.blobs["label"].data[...] = rng.integers(0, 10, net.blobs["label"].shape)
    net.forward()
    got = assert_parity(net, tmp_path / "m.onnx")
    (logits,) = got.values()
    assert logits.shape == (4, classes)
    # teacher-student nets: the default export is the student alone
    model_inputs = {i.name for i in __import__("onnx").load(str(tmp_path / "m.onnx")).graph.input}
    assert model_inputs == {"data"}


def test_export_cli_on_trained_lenet(tmp_path):
    from solver.cli import main

    folder = need(CAFFE_REF / "solvers" / "sgd_inv")
    out = tmp_path / "lenet.onnx"
    rc = main(["export-onnx", "-model", str(folder / "net.prototxt"), "-weights",
               str(folder / "snap_iter_30.caffemodel"), "-o", str(out), "--check"])
    assert rc == 0 and out.exists()
    batches = np.load(folder / "batches.npz")
    traj = np.load(folder / "trajectory.npz")
    net = caffe.Net(str(folder / "net.prototxt"), caffe.TEST)
    net.copy_from(str(folder / "snap_iter_30.caffemodel"))
    x = batches["data"][0]
    net.blobs["data"].data[...] = x
    net.forward()
    (logits,) = run_onnx(out, {"data": x}).values()
    np.testing.assert_allclose(logits, net.blobs["ip_s2"].data, rtol=1e-5, atol=1e-5)
    assert traj["iter"] == 30


def test_unexportable_layer_is_a_clear_error(tmp_path):
    from caffe_compat.proto import caffe_pb2
    from google.protobuf import text_format

    param = text_format.Parse("""
      layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
      layer { name: "am" type: "ArgMax" bottom: "x" top: "y" }
    """, caffe_pb2.NetParameter())
    net = caffe.Net(param, caffe.TEST)
    with pytest.raises(ExportError, match="Layer 'am': type 'ArgMax' cannot be exported"):
        export_onnx(net, str(tmp_path / "m.onnx"), outputs=["y"])
