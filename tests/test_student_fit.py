"""Every distill student takes MNIST's and CIFAR-10's samples; one that cannot, or a user's
student (--student-prototxt) that cannot or gives the wrong number of classes, is refused
before the teacher runs (solver.distill.fit_check); the NIN student's global pool; the
KD loss and the fidelity layer take a global pool's (N, C, 1, 1) logits."""
import time

import numpy as np
import pytest

from caffe_compat.errors import CaffeError
from solver.distill.fit_check import check_student_fits, student_param
from solver.distill.options import STUDENTS, student_defaults


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("student", STUDENTS)
def test_every_student_takes_mnist_and_cifar_samples_with_its_defaults(student, shape):
    check_student_fits(student, shape, student_defaults(student, shape))


@pytest.mark.parametrize("student, shape, opts, layer", [
    ("nin", (1, 28, 28), {"global_pool": False}, "Layer 'pool_s3' (Pooling): kernel 8 x 8 is "
                                                 "larger than the padded input"),
    ("alexnet", (1, 28, 28), {"stem": "standard"}, "Layer 'pool2' (Pooling)"),
    ("lenet", (1, 4, 4), {}, "Layer 'conv_s1' (Convolution)"),
])
def test_a_student_that_cannot_take_the_samples_is_named_with_the_shape(student, shape, opts,
                                                                         layer):
    with pytest.raises(CaffeError) as e:
        check_student_fits(student, shape, opts)
    text = str(e.value)
    size = "x".join(map(str, shape))
    assert text.startswith(f"--student {student} cannot take the data's {size} samples")
    assert layer in text


def test_the_check_runs_before_the_teacher(tmp_path, client, mnist):
    """The old order: the teacher labelled the data and profiled its logits, then the
    nets failed. Now nothing of the teacher's runs and no log is begun."""
    from solver.distill import distill

    out = tmp_path / "out"
    start = time.perf_counter()
    with pytest.raises(CaffeError, match=r"--student nin cannot take the data's 1x28x28"):
        distill([client], "nin", mnist, str(out), labels=False, subset=(256, 100),
                student_opts={"global_pool": False})
    assert not (out / "distill.log").exists()
    assert time.perf_counter() - start < 30


def _nets_with_the_same_weights(first_param, second_param):
    from caffe_compat.net import TEST, Net

    a, b = Net(first_param, TEST), Net(second_param, TEST)
    rng = np.random.default_rng(0)
    for name, blobs in a.params.items():
        for i, blob in enumerate(blobs):
            blob.data[...] = rng.normal(0, 0.05, blob.data.shape)
            b.params[name][i].data[...] = blob.data
    return a, b


def test_nin_global_pool_equals_the_zoo_8x8_pool_on_32_pixels():
    """On a 32x32 input pool3 sees an 8x8 map: the global average and the zoo's 8x8 kernel
    compute the same logits; on 28x28 only the global pool fits, averaging its 7x7 map."""
    zoo = student_param("nin", (3, 32, 32), {"dropout": False}, 10)
    pooled = student_param("nin", (3, 32, 32), {"dropout": False, "global_pool": True}, 10)
    assert [l.pooling_param.global_pooling for l in pooled.layer if l.name == "pool_s3"] == [True]
    a, b = _nets_with_the_same_weights(zoo, pooled)
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 32, 32)).astype(np.float32)
    out_a = a.forward(data=x)["pool_s3"].copy()
    out_b = b.forward(data=x)["pool_s3"]
    assert out_a.shape == out_b.shape == (1, 10, 1, 1)
    np.testing.assert_allclose(out_b, out_a, rtol=1e-5, atol=1e-7)
    small = student_param("nin", (1, 28, 28), student_defaults("nin", (1, 28, 28)), 10)
    net_a, _ = _nets_with_the_same_weights(small, small)
    x = np.random.default_rng(2).uniform(0, 1, (1, 1, 28, 28)).astype(np.float32)
    net_a.forward(data=x)
    cccp6 = net_a.blobs["cccp_s6"].data
    assert cccp6.shape == (1, 10, 7, 7)
    np.testing.assert_allclose(net_a.blobs["pool_s3"].data[:, :, 0, 0],
                               cccp6.astype(np.float64).mean(axis=(2, 3)), rtol=1e-5, atol=1e-7)


def _python_layer(cls, bottoms, tops, param_str=""):
    """A Python layer as a Net would make it, with blobs holding ``bottoms``."""
    from caffe_compat.blob import Blob
    from caffe_compat.proto import caffe_pb2

    p = caffe_pb2.LayerParameter(name=cls.__name__.lower(), type="Python")
    p.python_param.module = cls.__module__
    p.python_param.layer = cls.__name__
    p.python_param.param_str = param_str
    layer = cls(p, 0)
    bottom = []
    for array in bottoms:
        blob = Blob(array.shape)
        blob.data[...] = array
        bottom.append(blob)
    return layer, bottom, [Blob(()) for _ in range(tops)]


def _kd_reference(zs, zt, T):
    """Hinton's KD by a plain loop: T^2 / N sum_i KL(softmax(zt_i / T) || softmax(zs_i / T))
    and its gradient T / N (q - p)."""
    n = len(zs)
    loss, grad = 0.0, np.zeros_like(zs, dtype=np.float64)
    for i in range(n):
        p = np.exp(zt[i] / T - np.max(zt[i] / T))
        p /= p.sum()
        q = np.exp(zs[i] / T - np.max(zs[i] / T))
        q /= q.sum()
        loss += float(np.sum(p * (np.log(p) - np.log(q))))
        grad[i] = T / n * (q - p)
    return T * T * loss / n, grad


def test_kd_loss_takes_a_global_pools_logits():
    from caffe_compat.layer_types.distillation import KnowledgeDistillation

    rng = np.random.default_rng(3)
    zs, zt = rng.normal(0, 2, (6, 10)), rng.normal(0, 2, (6, 10))
    layer, bottom, top = _python_layer(
        KnowledgeDistillation, [zs.reshape(6, 10, 1, 1).astype(np.float32),
                                zt.astype(np.float32)], 1, '{"temperature": 3}')
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    top[0].diff[...] = 1.0
    layer.backward(top, [True, False], bottom)
    want, grad = _kd_reference(zs.astype(np.float32).astype(np.float64),
                               zt.astype(np.float32).astype(np.float64), 3.0)
    assert float(top[0].data) == pytest.approx(want, rel=1e-4)
    assert bottom[0].diff.shape == (6, 10, 1, 1)
    np.testing.assert_allclose(bottom[0].diff.reshape(6, 10), grad, rtol=1e-3, atol=1e-6)
    layer, bottom, top = _python_layer(
        KnowledgeDistillation, [np.zeros((6, 10, 2, 1), np.float32),
                                np.zeros((6, 10), np.float32)], 1)
    layer.setup(bottom, top)
    with pytest.raises(CaffeError, match="student and teacher logits must have the same shape"):
        layer.reshape(bottom, top)


def test_fidelity_takes_a_global_pools_logits():
    from caffe_compat.layer_types.fidelity import Fidelity

    zs = np.array([[3, 1, 0], [0, 2, 1], [1, 0, 5], [2, 2.5, 0]], np.float32)
    zt = np.array([[5, 0, 0], [0, 0, 4], [0, 0, 1], [1, 3, 0]], np.float32)
    layer, bottom, top = _python_layer(Fidelity, [zs.reshape(4, 3, 1, 1), zt], 2,
                                       '{"top_k": 2}')
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    assert float(top[0].data) == pytest.approx(3 / 4)   # sample 2 disagrees (1 vs 2)
    assert float(top[1].data) == pytest.approx(1.0)     # its teacher class is its second
    layer, bottom, top = _python_layer(Fidelity, [np.zeros((4, 3, 2, 2), np.float32), zt], 1)
    layer.setup(bottom, top)
    with pytest.raises(CaffeError, match=r"same \(N, classes\) shape"):
        layer.reshape(bottom, top)


def test_nin_student_distils_on_mnist(tmp_path, client, mnist):
    """The NIN student, made for 32x32, runs the whole job on 28x28 MNIST (its pool3 global)."""
    from solver.distill import distill

    rep = distill([client], "nin", mnist, str(tmp_path), labels=False, iterations=2,
                  subset=(256, 100))
    assert rep["student_options"]["global_pool"] is True
    assert rep["iterations_run"] == 2 and 0.0 <= rep["agreement"] <= 1.0
    import onnxruntime as ort

    session = ort.InferenceSession(rep["files"]["onnx"], providers=["CPUExecutionProvider"])
    x = np.random.default_rng(4).uniform(0, 1, (2, 1, 28, 28)).astype(np.float32)
    (logits,) = session.run(None, {session.get_inputs()[0].name: x})
    assert logits.reshape(2, -1).shape == (2, 10) and np.isfinite(logits).all()


TINY = '''name: "tiny"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 28 dim: 28 } } }
layer { name: "c1" type: "Convolution" bottom: "x" top: "c1"
  convolution_param { num_output: 4 kernel_size: KERNEL stride: 2 weight_filler { type: "msra" } } }
layer { name: "fc" type: "InnerProduct" bottom: "c1" top: "fc"
  inner_product_param { num_output: OUTPUTS weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
'''


def _tiny(tmp_path, kernel=5, outputs=10):
    path = tmp_path / f"tiny_k{kernel}_o{outputs}.prototxt"
    path.write_text(TINY.replace("KERNEL", str(kernel)).replace("OUTPUTS", str(outputs)))
    return str(path)


def test_a_users_student_that_fits_passes_the_check(tmp_path):
    from solver.distill.fit_check import check_user_student_fits

    check_user_student_fits(_tiny(tmp_path), (1, 28, 28), 10)
    check_user_student_fits(_tiny(tmp_path), (3, 32, 32), None)   # classes not known yet


@pytest.mark.parametrize("kernel, outputs, message", [
    (5, 100, "its logits 'fc' have 100 outputs (shape (1, 100)), but the data has 10 "
             "classes; set the last layer's num_output to 10"),
    (31, 10, "cannot take the data's 1x28x28 samples (C x H x W): Layer 'c1' (Convolution)"),
])
def test_a_users_student_that_does_not_fit_is_refused_before_the_teacher(tmp_path, client,
                                                                         mnist, kernel,
                                                                         outputs, message):
    """The 2017 repository's student_lenet.prototxt has 100 outputs for MNIST's 10 classes:
    that used to fail in the KD loss, after the teacher had labelled the data."""
    from solver.distill import distill

    path = _tiny(tmp_path, kernel, outputs)
    out = tmp_path / "out"
    with pytest.raises(CaffeError) as e:
        distill([client], "lenet", mnist, str(out), labels=False, subset=(256, 100),
                student_prototxt=path)
    assert str(e.value).startswith(f"--student-prototxt {path}")
    assert message in str(e.value)
    assert not (out / "distill.log").exists()


def test_a_missing_users_student_is_refused_before_the_teacher(tmp_path, client, mnist):
    from solver.distill import distill

    out = tmp_path / "out"
    with pytest.raises(CaffeError, match="nope.prototxt: file not found"):
        distill([client], "lenet", mnist, str(out), labels=False, subset=(256, 100),
                student_prototxt=str(tmp_path / "nope.prototxt"))
    assert not (out / "distill.log").exists()


def test_the_2017_student_lenet_prototxt_is_refused_naming_its_logits(tmp_path, client, mnist):
    """The README's case: the 2017 repository's student (100 outputs for MNIST's 10
    classes), refused before the teacher runs, naming ip_s2."""
    from conftest import ORIGINAL, need
    from solver.distill import distill

    path = str(need(ORIGINAL / "mnist" / "student_lenet.prototxt"))
    out = tmp_path / "out"
    with pytest.raises(CaffeError) as e:
        distill([client], "lenet", mnist, str(out), labels=False, subset=(256, 100),
                student_prototxt=path)
    assert "its logits 'ip_s2' have 100 outputs (shape (1, 100)), but the data has 10 " \
           "classes; set the last layer's num_output to 10" in str(e.value)
    assert not (out / "distill.log").exists()
