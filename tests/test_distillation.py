"""KnowledgeDistillation: forward and gradient against a float64 reference written
independently (plain loops over samples and classes), and central differences."""
import json
import math

import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.layer_types.distillation import KnowledgeDistillation
from caffe_compat.proto import caffe_pb2
from gradcheck import check_gradient


def make_layer(**params):
    p = caffe_pb2.LayerParameter(name="kd", type="Python")
    p.python_param.module = "caffe_compat.layer_types.distillation"
    p.python_param.layer = "KnowledgeDistillation"
    p.python_param.param_str = json.dumps(params)
    return KnowledgeDistillation(p, 0)


def reference(zs, zt, T, labels=None, ignore=None):
    """loss = T^2/M sum_i KL(p_t || q), grad = T/M (q - p_t), by loops in float64."""
    n, c = zs.shape
    loss, grad, m = 0.0, np.zeros((n, c)), 0
    for i in range(n):
        if ignore is not None and labels[i] == ignore:
            continue
        m += 1
        et = [math.exp(zt[i, k] / T) for k in range(c)]
        es = [math.exp(zs[i, k] / T) for k in range(c)]
        p = [v / sum(et) for v in et]
        q = [v / sum(es) for v in es]
        loss += sum(p[k] * (math.log(p[k]) - math.log(q[k])) for k in range(c))
        grad[i] = [q[k] - p[k] for k in range(c)]
    if ignore is None:
        m = n
    return T * T * loss / m, T * grad / m


def run(layer, arrays, loss_weight=1.0, dtype=np.float64):
    bottom = []
    for a in arrays:
        b = Blob(a.shape, dtype=dtype)
        b.data[...] = a
        bottom.append(b)
    top = [Blob((), dtype=dtype)]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    top[0].diff[...] = loss_weight
    layer.backward(top, [True] + [False] * (len(bottom) - 1), bottom)
    return float(top[0].data), bottom[0].diff.copy()


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 10.0])
def test_forward_and_gradient_match_float64_reference(T):
    rng = np.random.default_rng(int(T))
    zs, zt = rng.normal(0, 3, (7, 10)), rng.normal(0, 5, (7, 10))
    loss, grad = run(make_layer(temperature=T), [zs, zt], loss_weight=0.7)
    ref_loss, ref_grad = reference(zs, zt, T)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, 0.7 * ref_grad, rtol=1e-10, atol=1e-14)


def test_float32_close_to_reference():
    rng = np.random.default_rng(5)
    zs, zt = rng.normal(0, 3, (64, 10)), rng.normal(0, 7, (64, 10))
    loss, grad = run(make_layer(temperature=4), [zs.astype(np.float32), zt.astype(np.float32)],
                     dtype=np.float32)
    ref_loss, ref_grad = reference(zs.astype(np.float32).astype(np.float64),
                                   zt.astype(np.float32).astype(np.float64), 4.0)
    assert loss == pytest.approx(ref_loss, rel=1e-4)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-7)


def test_ignore_label_normalises_by_valid_count():
    rng = np.random.default_rng(1)
    zs, zt = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    labels = np.array([0, 255, 2, 3, 255, 1], dtype=np.float64)
    loss, grad = run(make_layer(temperature=3, ignore_label=255), [zs, zt, labels])
    ref_loss, ref_grad = reference(zs, zt, 3.0, labels, 255)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-14)
    assert np.all(grad[[1, 4]] == 0)


def test_gradient_magnitude_does_not_shrink_with_temperature():
    rng = np.random.default_rng(2)
    zs, zt = rng.normal(size=(16, 10)), rng.normal(size=(16, 10))
    norms = [np.abs(run(make_layer(temperature=T), [zs, zt])[1]).sum() for T in (5, 20, 80)]
    assert norms[2] / norms[0] == pytest.approx(1.0, rel=0.1)


@pytest.mark.parametrize("T,shape", [(1.0, (4, 6)), (3.0, (3, 5)), (8.0, (2, 4, 3))])
def test_central_difference(T, shape):
    rng = np.random.default_rng(3)
    layer = make_layer(temperature=T)
    check_gradient(layer, [rng.normal(0, 2, shape), rng.normal(0, 2, shape)],
                   check_bottom=[0], threshold=1e-6)


def test_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(Exception, match="same shape"):
        run(make_layer(), [rng.normal(size=(2, 10)), rng.normal(size=(2, 9))])
    with pytest.raises(Exception, match="temperature must be > 0"):
        run(make_layer(temperature=0), [rng.normal(size=(2, 3))] * 2)
    with pytest.raises(Exception, match="unknown param_str key"):
        run(make_layer(temprature=2), [rng.normal(size=(2, 3))] * 2)
