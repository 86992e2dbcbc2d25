"""The SGEMM bound of a net: its GEMM FLOPs, the SGEMM rate, and its GEMMs alone.

``gemm_flops``: forward + backward FLOPs of the convolutions and inner products of one
iteration (weight gradient always, data gradient for every layer but the first -- and for
the first too when the net has ``force_backward``, as Caffe then computes it);
``gemm_shapes``: the same products as (M, K, N) in im2col form, per group;
``sgemm_gflops``: the rate of a 256x2304x4096 product, best of 5, in this process;
``gemm_floor_ms``: the net's GEMMs alone at their shapes (best of 5 each).
"""
import math
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gemm_flops(path):
    """Forward + backward GEMM FLOPs of one iteration of the net at ``path``."""
    import numpy as np

    sys.path.insert(0, REPO)
    from caffe_compat import TRAIN, Net

    net = Net(path, TRAIN)
    total = 0
    first = not net.force_backward  # force_backward: Caffe computes the data's gradient too
    for layer, name in zip(net.layers, net._layer_names):
        t = layer.layer_param.type
        if t not in ("Convolution", "InnerProduct"):
            continue
        w = layer.blobs[0].shape
        macs_per_out = int(np.prod(w[1:]))
        outs = int(np.prod(net.blobs[net.top_names[name][0]].shape))
        fwd = 2 * macs_per_out * outs
        total += fwd * (2 if first else 3)  # weight grad always; data grad not for the input
        first = False
    return total


def gemm_shapes(net):
    """(M, K, N) of every GEMM an iteration needs, in im2col form over the whole batch:
    per convolution group or inner product, forward, weight gradient and (except for the
    first layer) data gradient -- the products gemm_flops counts."""
    shapes, first = [], not net.force_backward
    for layer, name in zip(net.layers, net._layer_names):
        t = layer.layer_param.type
        if t not in ("Convolution", "InnerProduct"):
            continue
        w = layer.blobs[0].shape
        top = net.blobs[net.top_names[name][0]].shape
        groups = layer.group if t == "Convolution" else 1
        o, k = w[0] // groups, int(math.prod(w[1:]))
        n = int(math.prod(top)) // w[0]  # output positions per output channel
        for _ in range(groups):
            shapes += [(o, k, n), (o, n, k)] + ([] if first else [(k, o, n)])
        first = False
    return shapes


def gemm_floor_ms(net, np, repeats=5):
    """Milliseconds of the net's GEMMs alone at their shapes (best of ``repeats`` each):
    what OpenBLAS gives for those shapes, however little else an iteration did."""
    rng = np.random.default_rng(1)
    total = 0.0
    for m, k, n in gemm_shapes(net):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
        total += best
    return 1000 * total


def sgemm_gflops(np, repeats=5):
    """GFLOP/s of a 256x2304x4096 float32 product (best of ``repeats``)."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((256, 2304), dtype=np.float32)
    b = rng.standard_normal((2304, 4096), dtype=np.float32)
    c = np.empty((256, 4096), np.float32)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * 256 * 2304 * 4096 / best / 1e9
