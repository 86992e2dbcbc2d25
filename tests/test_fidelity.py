"""Fidelity metrics against hand-counted values."""
import math

import numpy as np

from caffe_compat.blob import Blob
from caffe_compat.layer_types.fidelity import Fidelity
from caffe_compat.proto import caffe_pb2


def run(zs, zt, tops=3, param_str=""):
    p = caffe_pb2.LayerParameter(name="fid", type="Python")
    p.python_param.param_str = param_str
    layer = Fidelity(p, 1)
    bottom = [Blob(zs.shape), Blob(zt.shape)]
    bottom[0].data[...] = zs
    bottom[1].data[...] = zt
    top = [Blob(()) for _ in range(tops)]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    return [float(t.data) for t in top]


def test_agreement_counts():
    zt = np.eye(6, dtype=np.float32)[[0, 1, 2, 3]] * 5  # teacher classes 0,1,2,3
    zs = np.zeros((4, 6), np.float32)
    zs[0, 0] = 9                       # agrees
    zs[1, 5] = 9                       # disagrees; class 1 ties with 4 others at 0 -> in top 5
    zs[2, :] = [0, 0, -1, 1, 1, 1]     # 5 classes above class 2 -> not in top 5
    zs[3, 3] = 2; zs[3, 4] = 3         # second place -> top-5 only
    top1, top5, kl = run(zs, zt)
    assert top1 == 0.25
    assert top5 == 0.75
    expected_kl = 0.0
    for i in range(4):
        p = np.exp(zt[i]) / np.exp(zt[i]).sum()
        q = np.exp(zs[i].astype(np.float64)) / np.exp(zs[i].astype(np.float64)).sum()
        expected_kl += sum(p[k] * math.log(p[k] / q[k]) for k in range(6))
    assert math.isclose(kl, expected_kl / 4, rel_tol=1e-5)


def test_identical_logits_agree_fully():
    z = np.random.default_rng(0).normal(size=(50, 10)).astype(np.float32)
    top1, top5, kl = run(z, z.copy())
    assert top1 == 1.0 and top5 == 1.0 and abs(kl) < 1e-6
