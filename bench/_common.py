"""Shared pieces of the benchmarks: result rows, the table, the student LeNet prototxt.

A benchmark module has ``main(quick=False) -> list of rows``; a row is a dict with
``name``, ``ours``, ``baseline`` (numbers or text), ``unit``, ``ratio`` (ours / baseline),
``target`` (text, e.g. "<= 1.05") and ``verdict`` ("PASS", "FAIL", "info", or why not run).
"""
import json
import os
import statistics
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
SHARED = os.environ.get("TSCAFFE_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
MNIST_DIR = os.path.join(SHARED, "datasets", "mnist")
TEACHER_ONNX = os.path.join(SHARED, "teachers", "advertorch_lenet5_clean.onnx")

for path in (REPO, BENCH):
    if path not in sys.path:
        sys.path.insert(0, path)

# The lenet_solver settings (Caffe's examples/mnist), no display, no test, no snapshot.
LENET_SOLVER = """base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 lr_policy: "inv"
gamma: 0.0001 power: 0.75 display: 0 max_iter: 1000000 snapshot: 0 random_seed: 1
type: "SGD" snapshot_prefix: "{prefix}" """


# Caffe's MNIST LeNet (examples/mnist/lenet_train_test.prototxt) without its data layers:
# 20/50/500/10, lr_mult 1/2, xavier fillers; reads "data" and "label".
LENET_BODY = """
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  param { lr_mult: 1 } param { lr_mult: 2 }
  convolution_param { num_output: 20 kernel_size: 5 stride: 1
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
  param { lr_mult: 1 } param { lr_mult: 2 }
  convolution_param { num_output: 50 kernel_size: 5 stride: 1
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool2" top: "ip1"
  param { lr_mult: 1 } param { lr_mult: 2 }
  inner_product_param { num_output: 500
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
  param { lr_mult: 1 } param { lr_mult: 2 }
  inner_product_param { num_output: 10
    weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""
# In-memory MNIST batches of 64 (no I/O, no decoding): the input of the timed LeNets.
MEMORY_INPUT = """layer { name: "mnist" type: "MemoryData" top: "data" top: "label"
  memory_data_param { batch_size: 64 channels: 1 height: 28 width: 28 } }"""


def run_child_json(argv, env, timeout=1800):
    """``python argv...`` in a fresh process; the JSON object its last stdout line prints
    (RuntimeError with the end of its stderr when it fails)."""
    proc = subprocess.run([sys.executable] + list(argv), capture_output=True, text=True,
                          env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_ms(seconds):
    return 1000.0 * statistics.median(seconds)


def row(name, ours, baseline, unit, target=None, ratio=None, verdict=None, lower_is_better=True):
    """A result row; ``ratio`` defaults to ours / baseline and ``verdict`` to the target's
    comparison (``target`` a number: ratio <= target, or >= with lower_is_better=False)."""
    numeric = isinstance(ours, (int, float)) and isinstance(baseline, (int, float)) and baseline
    if ratio is None and numeric:
        ratio = ours / baseline
    target_text = target
    if isinstance(target, (int, float)):
        target_text = f"{'<=' if lower_is_better else '>='} {target:g}"
        if verdict is None and ratio is not None:
            ok = ratio <= target if lower_is_better else ratio >= target
            verdict = "PASS" if ok else "FAIL"
    return {"name": name, "ours": ours, "baseline": baseline, "unit": unit, "ratio": ratio,
            "target": target_text or "", "verdict": verdict or "info"}


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _ratio(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3f}"
    return str(value) if value not in (None, "") else "-"


def format_table(rows):
    """One text table: name, ours, baseline, unit, ratio, target, verdict."""
    head = ("benchmark", "ours", "baseline", "unit", "ratio", "target", "verdict")
    body = [(r["name"], _cell(r["ours"]), _cell(r["baseline"]), r.get("unit", ""),
             _ratio(r.get("ratio")), r.get("target") or "-",
             r.get("verdict", "")) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in body]
    return "\n".join(lines)


def student_lenet(loss=True):
    """LENET_BODY with or without its SoftmaxWithLoss on ``ip2`` and ``label``."""
    marker = 'layer { name: "loss" type: "SoftmaxWithLoss"'
    if marker not in LENET_BODY:
        raise RuntimeError("LENET_BODY changed: no SoftmaxWithLoss layer to strip")
    return LENET_BODY if loss else LENET_BODY[:LENET_BODY.index(marker)]


def make_solver(net_text, prefix):
    """An SGD solver (lenet_solver settings) over the net in ``net_text``."""
    from google.protobuf import text_format

    from caffe_compat.proto import caffe_pb2
    from caffe_compat.solvers import get_solver

    param = text_format.Parse(LENET_SOLVER.format(prefix=prefix), caffe_pb2.SolverParameter())
    text_format.Merge(net_text, param.net_param)
    return get_solver(param)


def quiet_logs():
    import logging

    logging.disable(logging.INFO)
    os.environ["GLOG_minloglevel"] = "1"  # the solver's glog INFO lines
    os.environ.setdefault("TQDM_DISABLE", "1")


def versions():
    """numpy, onnxruntime and torch versions and the OpenBLAS numpy loads (threadpoolctl:
    version, the kernel it picked -- ``architecture`` -- and its threading)."""
    from importlib import metadata

    info = {}
    for package in ("numpy", "onnxruntime", "torch"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    try:
        import numpy  # noqa: F401  (loads its OpenBLAS for threadpoolctl to see)
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("internal_api") == "openblas"]
        if blas:
            info["openblas"] = blas[0].get("version")
            info["openblas_kernel"] = blas[0].get("architecture")
            info["openblas_threading"] = blas[0].get("threading_layer")
    except ImportError:
        info["openblas_kernel"] = "threadpoolctl not installed"
    return info


def header(info, caffe_core=None):
    text = ", ".join(f"{k} {info.get(k)}" for k in ("numpy", "onnxruntime", "torch", "openblas"))
    text += f"; OpenBLAS kernel {info.get('openblas_kernel')} ({info.get('openblas_threading')})"
    if caffe_core:
        text += f"; real Caffe's OpenBLAS core {caffe_core}"
    return text


def settle(net, limit=60):
    """Runs forward_backward until every fast-engine layer has picked its kernels (the
    DEFAULT engine times its candidates on the first real calls: caffe_compat.engines.Pick),
    at most ``limit`` times; returns how many it ran. Timing before that would time the
    slower candidates too."""
    from caffe_compat import engines

    describe = getattr(engines, "describe", None)
    for k in range(limit):
        if describe is not None and k and not any(
                "still timing" in (describe(layer) or "") or "not run yet" in (describe(layer) or "")
                for layer in net.layers):
            return k
        net.forward_backward()
    return limit


def engine_picks(net):
    """{what computes it (caffe_compat.engines.describe): count of layers}."""
    from collections import Counter

    from caffe_compat import engines

    describe = getattr(engines, "describe", None)
    if describe is None:
        return {}
    return dict(Counter(f"{layer.type} {d}" for layer in net.layers
                        if (d := describe(layer)) is not None))


def net_inputs(net, np, rng):
    """Random inputs for a bench net: class indices for ``label``, uniform [0, 1) elsewhere."""
    for name in net.inputs:
        blob = net.blobs[name]
        if name == "label":
            blob.data[...] = rng.integers(0, 10, size=blob.shape)
        else:
            blob.data[...] = rng.uniform(0, 1, size=blob.shape)
