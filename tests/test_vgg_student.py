"""The VGG-16 student of 2017, made to learn: its full depth at a width multiplier, the
AlexNet student for small inputs, the warm-up policy in a run, and `tscaffe reproduce
vgg16` end to end on a tiny budget (the deep student's loss must fall; the 2017 recipe's
barely moves)."""
import os
import subprocess
import sys

import pytest

from conftest import REPO


def layers_of(path):
    from prototxt.io import read_net

    return read_net(path).layer


def ts_losses(log_path):
    from solver.parse_log import parse_log

    train, _ = parse_log(log_path)
    return [r["ts_loss"] for r in train if "ts_loss" in r]


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, client, mnist):
    """`tscaffe reproduce vgg16` with the client teacher, 640 training images, 40 iterations."""
    out = tmp_path_factory.mktemp("reproduce_vgg16")
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "solver", "reproduce", "vgg16", "--teacher",
                           client, "--data", mnist, "--subset", "640,100", "--iterations", "40",
                           "-o", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def test_vgg16_student_has_the_full_depth_at_width(reproduced):
    out, _ = reproduced
    layers = layers_of(str(out / "vgg16_tscaffe_student.prototxt"))
    convs = [l for l in layers if l.type == "Convolution"]
    ips = [l for l in layers if l.type == "InnerProduct"]
    assert [l.name for l in convs] == [f"conv{b}_{i}" for b, n in
                                       ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
                                       for i in range(1, n + 1)]
    assert [l.name for l in ips] == ["fc6", "fc7", "fc8"]   # Caffe's VGG-16 names
    # width 0.125: 8-16-32-64-64 channels, fc 512; msra fillers; BatchNorm + Scale.
    assert [l.convolution_param.num_output for l in convs] == [8, 8, 16, 16, 32, 32, 32,
                                                              64, 64, 64, 64, 64, 64]
    assert [l.inner_product_param.num_output for l in ips] == [512, 512, 10]
    assert {l.convolution_param.weight_filler.type for l in convs} == {"msra"}
    assert sum(l.type == "BatchNorm" for l in layers) == 13
    assert sum(l.type == "Scale" for l in layers) == 13
    # The 2017 recipe's student: plain convolutions with xavier fillers.
    old = layers_of(str(out / "vgg16_2017_recipe_student.prototxt"))
    assert not any(l.type == "BatchNorm" for l in old)
    assert {l.convolution_param.weight_filler.type for l in old if l.type == "Convolution"} == {"xavier"}


def test_deep_student_loss_falls_and_2017_recipe_barely_moves(reproduced):
    out, stdout = reproduced
    fixed = ts_losses(str(out / "vgg16_tscaffe.log"))
    old = ts_losses(str(out / "vgg16_2017_recipe.log"))
    assert fixed[-1] < 0.5 * fixed[0], fixed
    assert abs(old[-1] - old[0]) < 0.05 * old[0], old    # the 2017 plateau near 7.34
    report = (out / "report.md").read_text()
    assert "vgg16_2017_recipe" in report and "vgg16_tscaffe" in report
    assert "](agreement.png)" in report and (out / "agreement.png").stat().st_size
    assert "vgg16_tscaffe: accuracy=" in stdout


def test_alexnet_student_for_small_inputs(tmp_path, client, mnist):
    from solver.distill import distill

    rep = distill([client], "alexnet", mnist, str(tmp_path), labels=False, iterations=4,
                  subset=(256, 100), test_interval=4, display=2)
    layers = layers_of(rep["files"]["student_prototxt"])
    conv1 = next(l for l in layers if l.name == "conv1")
    assert list(conv1.convolution_param.kernel_size) == [5]      # the small-input stem
    assert conv1.convolution_param.num_output == 24              # 96 x 0.25
    assert rep["student_options"]["stem"] == "small"


def test_warmup_policy_runs_in_distill(tmp_path, client, mnist):
    from solver.distill import distill

    rep = distill([client], "lenet", mnist, str(tmp_path), labels=False, iterations=6,
                  subset=(256, 100), test_interval=6, display=1, base_lr=0.01,
                  solver_opts={"lr_policy": "warmup_inv", "stepsize": 4})
    import re

    rates = dict(re.findall(r"Iteration (\d+), lr = ([\d.e-]+)", open(rep["files"]["log"]).read()))
    for it in range(6):   # 0.01 * (1 + 1e-4 it)^-0.75 (inv), times (it + 1) / 4 while it < 4
        inv = 0.01 * (1 + 1e-4 * it) ** -0.75
        assert float(rates[str(it)]) == pytest.approx(inv * min(1, (it + 1) / 4), rel=1e-5)


def test_width_options_only_for_deep_students(tmp_path, client, mnist):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "solver", "distill", "--teacher", client,
                           "--student", "lenet", "--width", "0.5", "--data", mnist,
                           "-o", str(tmp_path)], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "--width: the lenet student has no option 'width'; its options: dropout" \
        in proc.stderr
    assert "Traceback" not in proc.stderr


def test_batchnorm_recalibration_gives_the_final_weights_statistics():
    """After recalibrate_batchnorm the stored statistics are the batches' own (numpy's mean
    and unbiased variance of the input), whatever the moving sums held before."""
    import numpy as np
    from google.protobuf import text_format

    import caffe_compat as caffe
    from caffe_compat.proto import caffe_pb2
    from solver.distill import recalibrate_batchnorm

    param = text_format.Parse("""
      layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 8 dim: 3 dim: 4 dim: 4 } } }
      layer { name: "bn" type: "BatchNorm" bottom: "x" top: "y" }""", caffe_pb2.NetParameter())
    net = caffe.Net(param, caffe.TRAIN)
    rng = np.random.default_rng(0)
    net.blobs["x"].data[...] = rng.normal(5.0, 3.0, size=(8, 3, 4, 4))
    for blob in net.params["bn"]:
        blob.data[...] = 123.0                       # stale moving sums
    assert recalibrate_batchnorm(net, passes=3) == 1
    x = net.blobs["x"].data.astype(np.float64)
    mean, var, factor = (b.data for b in net.params["bn"])
    np.testing.assert_allclose(mean / factor, x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(var / factor, x.var(axis=(0, 2, 3), ddof=1), rtol=1e-4)


def _vgg_student_net(**student):
    """A 2-block VGG student (width 0.125, BatchNorm) rendered from the templates on an
    Input of 4 x 1 x 8 x 8, as a TRAIN-phase Net."""
    from google.protobuf import text_format

    import caffe_compat as caffe
    from caffe_compat.proto import caffe_pb2
    from prototxt.render import render_net

    cfg = {"data": [{"name": "data", "phase": "TRAIN", "source": "x", "batch_size": 4}],
           "student": dict({"arch": "vgg16", "width": 0.125, "bn": True, "blocks": 2,
                            "classifier": False, "num_classes": 10}, **student)}
    text = render_net("net", cfg)
    param = text_format.Parse(text, caffe_pb2.NetParameter())
    # an Input in the Data layer's place, and no loss (nothing gives a label)
    layers = [l for l in param.layer if l.type not in ("Data", "SoftmaxWithLoss", "Accuracy")]
    del param.layer[:]
    param.layer.add().CopyFrom(text_format.Parse(
        'name: "data" type: "Input" top: "data" input_param { shape { dim: 4 dim: 1 dim: 8 '
        'dim: 8 } }', caffe_pb2.LayerParameter()))
    param.layer.extend(layers)
    return text, param, caffe.Net(param, caffe.TRAIN)


def test_bn_fraction_renders_and_the_statistics_follow_it():
    """``bn_fraction`` becomes every BatchNorm's moving_average_fraction, and the layer's
    stored sums after three TRAIN passes are the plain recurrence s <- f s + 1,
    m <- f m + mean, v <- f v + unbiased var of the batches it saw."""
    import numpy as np

    _, param, net = _vgg_student_net(bn_fraction=0.9)
    bns = [l for l in param.layer if l.type == "BatchNorm"]
    assert len(bns) == 4
    assert all(l.batch_norm_param.moving_average_fraction == pytest.approx(0.9) for l in bns)
    rng = np.random.default_rng(3)
    factor, mean, var = 0.0, 0.0, 0.0
    for _ in range(3):
        net.blobs["data"].data[...] = rng.normal(2.0, 1.5, size=(4, 1, 8, 8))
        net.forward()   # conv1_1 by hand: BatchNorm ran in place over its output
        w = net.params["conv1_1"][0].data.astype(np.float64)
        d = net.blobs["data"].data.astype(np.float64)
        pad = np.pad(d, ((0, 0), (0, 0), (1, 1), (1, 1)))
        conv = np.zeros((4, w.shape[0], 8, 8))
        for i in range(3):
            for j in range(3):
                conv += np.einsum("nchw,oc->nohw", pad[:, :, i:i + 8, j:j + 8], w[:, :, i, j])
        factor = 0.9 * factor + 1
        mean = 0.9 * mean + conv.mean(axis=(0, 2, 3))
        var = 0.9 * var + conv.var(axis=(0, 2, 3), ddof=1)
    m, v, s = (b.data.astype(np.float64) for b in net.params["bn1_1"])
    assert s[0] == pytest.approx(factor, rel=1e-6)
    np.testing.assert_allclose(m, mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(v, var, rtol=1e-3, atol=1e-6)


def test_bn_fraction_unset_keeps_caffes_default():
    text, param, _ = _vgg_student_net()
    assert "moving_average_fraction" not in text
    assert all(not l.HasField("batch_norm_param") for l in param.layer if l.type == "BatchNorm")


def test_bn_fraction_is_checked_from_python():
    from caffe_compat.errors import CaffeError
    from solver.distill.options import DistillOptions

    with pytest.raises(CaffeError, match=r"student_opts\['bn_fraction'\] must "
                                         r"be in \[0, 1\], got 1.5"):
        DistillOptions(["t.onnx"], "vgg16", student_opts={"bn_fraction": 1.5}).resolved()
    opts = DistillOptions(["t.onnx"], "vgg16", student_opts={"bn_fraction": 0.9}).resolved()
    assert opts.student_opts["bn_fraction"] == 0.9


def test_distill_vgg_default_student_uses_bn_fraction_099():
    from solver.distill.options import student_defaults

    assert student_defaults("vgg16", (1, 28, 28))["bn_fraction"] == 0.99
    assert student_defaults("vgg16", (1, 28, 28), {"bn_fraction": 0.9})["bn_fraction"] == 0.9


@pytest.mark.parametrize("argv, message", [
    (["--student", "lenet", "--bn-fraction", "0.9"],
     "--bn-fraction: the lenet student has no option 'bn_fraction'; its options: dropout"),
    (["--student", "vgg16", "--no-bn", "--bn-fraction", "0.9"],
     "--bn-fraction sets BatchNorm's moving_average_fraction, but the student has no "
     "BatchNorm (--no-bn)"),
    (["--student", "vgg16", "--bn-fraction", "1.5"], "--bn-fraction must be in [0, 1], got 1.5"),
])
def test_bn_fraction_flag_is_checked(tmp_path, client, mnist, argv, message):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "solver", "distill", "--teacher", client,
                           "--data", mnist, "-o", str(tmp_path)] + argv,
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
