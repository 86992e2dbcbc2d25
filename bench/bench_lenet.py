"""Forward + backward time of Caffe's MNIST LeNet at batch 64, one BLAS thread.

    python bench/bench_lenet.py [--iters 50] [--warmup 5]

Layers are driven directly (no Net), in Caffe's order, with Caffe's backward needs: conv1
does not propagate to the data and the loss not to the labels. Per layer the median
forward (reshape + forward, as Caffe's Layer::Forward) and backward time is printed next
to real Caffe 1.0's `caffe time` figures measured on this kind of machine (CPU, OpenBLAS,
one thread), as ratios (ours / Caffe; < 1 is faster).
"""
import argparse
import os
import resource
import statistics
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy is imported, like Caffe's run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from google.protobuf import text_format  # noqa: E402

from caffe_compat.blob import Blob  # noqa: E402
from caffe_compat.layers import create_layer  # noqa: E402
from caffe_compat.proto import caffe_pb2  # noqa: E402

# Caffe's examples/mnist/lenet_train_test.prototxt, without its data layers.
LENET = """
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 20 kernel_size: 5 stride: 1
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
  convolution_param { num_output: 50 kernel_size: 5 stride: 1
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool2" top: "ip1"
  inner_product_param { num_output: 500
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 10
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""

# Real Caffe 1.0, `caffe time`, 1 thread, this machine type: forward / backward ms.
CAFFE_MS = {"conv1": (1.00, 1.07), "pool1": (0.89, 0.30), "conv2": (3.23, 6.06),
            "pool2": (0.55, 0.37), "ip1": (0.53, 1.01)}
CAFFE_TOTAL = (6.0, 8.6)


def build(batch):
    net = caffe_pb2.NetParameter()
    text_format.Merge(LENET, net)
    rng = np.random.default_rng(0)
    blobs = {"data": Blob((batch, 1, 28, 28), name="data"), "label": Blob((batch,), name="label")}
    blobs["data"].data[...] = rng.uniform(0, 1, size=(batch, 1, 28, 28))
    blobs["label"].data[...] = rng.integers(0, 10, size=batch)
    layers = []
    for lp in net.layer:
        layer = create_layer(lp, caffe_pb2.TRAIN)
        bottom = [blobs[n] for n in lp.bottom]
        top = [blobs.setdefault(n, Blob((), name=n)) for n in lp.top]
        layer.check_blob_counts(bottom, top)
        layer.setup(bottom, top)
        layer.reshape(bottom, top)
        # Caffe's backward needs: nothing flows into the data or the labels.
        prop = [n not in ("data", "label") for n in lp.bottom]
        layers.append((lp.name, layer, bottom, top, prop))
    return layers


def iteration(layers, fwd, bwd):
    for name, layer, bottom, top, _ in layers:
        t0 = time.perf_counter()
        layer.reshape(bottom, top)
        layer.forward(bottom, top)
        fwd[name].append(time.perf_counter() - t0)
    for name, layer, bottom, top, prop in reversed(layers):
        if layer.IS_LOSS:
            top[0].diff[...] = 1.0  # loss_weight
        t0 = time.perf_counter()
        layer.backward(top, prop, bottom)
        bwd[name].append(time.perf_counter() - t0)


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} threads={i.get('num_threads')}"
        for i in threadpool_info() if i.get("user_api") == "blas")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    layers = build(args.batch)
    names = [name for name, *_ in layers]
    fwd = {n: [] for n in names}
    bwd = {n: [] for n in names}
    for _ in range(args.warmup):
        iteration(layers, {n: [] for n in names}, {n: [] for n in names})
    totals = []
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(args.iters):
        t0 = time.perf_counter()
        iteration(layers, fwd, bwd)
        totals.append(time.perf_counter() - t0)

    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    faults = (usage1.ru_minflt - usage0.ru_minflt) / args.iters
    sys_ms = 1000 * (usage1.ru_stime - usage0.ru_stime) / args.iters
    from caffe_compat import _malloc

    print(f"LeNet batch {args.batch}, {args.iters} iterations (median ms); BLAS: {blas_info()}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"mallopt thresholds raised (caffe_compat/_malloc.py): {_malloc.applied}; "
          f"per iteration: {faults:.0f} minor page faults, {sys_ms:.2f} ms system time")
    print(f"{'layer':8} {'fwd':>7} {'bwd':>7}   {'caffe fwd':>9} {'caffe bwd':>9}   {'ratio fwd':>9} {'ratio bwd':>9}")
    ms = lambda v: 1000 * statistics.median(v)  # noqa: E731
    for n in names:
        f, b = ms(fwd[n]), ms(bwd[n])
        line = f"{n:8} {f:7.3f} {b:7.3f}"
        if n in CAFFE_MS:
            cf, cb = CAFFE_MS[n]
            line += f"   {cf:9.2f} {cb:9.2f}   {f / cf:9.2f} {b / cb:9.2f}"
        print(line)
    iters_f = [sum(fwd[n][i] for n in names) for i in range(args.iters)]
    iters_b = [sum(bwd[n][i] for n in names) for i in range(args.iters)]
    tf, tb, tt = ms(iters_f), ms(iters_b), ms(totals)
    cf, cb = CAFFE_TOTAL
    print(f"{'forward':8} {tf:7.3f} {'':7}   {cf:9.2f} {'':9}   {tf / cf:9.2f}")
    print(f"{'backward':8} {'':7} {tb:7.3f}   {'':9} {cb:9.2f}   {'':9} {tb / cb:9.2f}")
    print(f"total fwd+bwd {tt:.3f} ms vs Caffe {cf + cb:.1f} ms: ratio {tt / (cf + cb):.2f}")


if __name__ == "__main__":
    main()
