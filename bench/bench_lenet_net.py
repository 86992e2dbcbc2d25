"""Caffe's MNIST LeNet as a Net built from a prototxt: forward + backward at batch 64 on one
BLAS thread vs real Caffe 1.0's `caffe time` (14.6 ms), and a full SGD step vs PyTorch.

    python bench/bench_lenet_net.py [--quick]

The prototxt is bench_lenet.LENET (Caffe's lenet_train_test.prototxt without its data
layers) behind two Input layers, written to a file and read by ``Net(path, TRAIN)``, so the
Net's own rules decide what runs backward (nothing into the data or the labels), as in
Caffe. Per layer times come from the Net's before/after forward/backward hooks. The SGD step
(forward, backward, lenet_solver update) is compared with the same step in PyTorch on CPU at
one thread, measured in a separate process (bench_torch.py) because a process that imports
torch hides numpy's malloc costs.
"""
import os
import sys
import tempfile
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy is imported, like Caffe's run
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from _common import median_ms, row  # noqa: E402

BATCH = 64
INPUTS = """name: "LeNet"
layer {{ name: "data" type: "Input" top: "data"
  input_param {{ shape {{ dim: {b} dim: 1 dim: 28 dim: 28 }} }} }}
layer {{ name: "label" type: "Input" top: "label" input_param {{ shape {{ dim: {b} }} }} }}
"""


def build_net(folder, batch=BATCH):
    import numpy as np

    from bench_lenet import LENET
    from caffe_compat import TRAIN, Net

    path = os.path.join(folder, "lenet_bench.prototxt")
    with open(path, "w") as f:
        f.write(INPUTS.format(b=batch) + LENET)
    net = Net(path, TRAIN)
    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.uniform(0, 1, size=(batch, 1, 28, 28))
    net.blobs["label"].data[...] = rng.integers(0, 10, size=batch)
    return net


def time_net(net, iters, warmup):
    """Median forward, backward, total ms and per-layer (forward, backward) ms."""
    names = list(net._layer_names)
    per = {"f": {n: [] for n in names}, "b": {n: [] for n in names}}
    clock = {}

    def start(i):
        clock[i] = time.perf_counter()

    def stop(kind):
        return lambda i: per[kind][names[i]].append(time.perf_counter() - clock[i])

    net.before_forward(start)
    net.after_forward(stop("f"))
    net.before_backward(start)
    net.after_backward(stop("b"))
    fwd, bwd, tot = [], [], []
    for k in range(warmup + iters):
        t0 = time.perf_counter()
        net.forward()
        t1 = time.perf_counter()
        net.backward()
        t2 = time.perf_counter()
        if k >= warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            tot.append(t2 - t0)
    layers = {n: (median_ms(per["f"][n][warmup:]), median_ms(per["b"][n][warmup:])) for n in names}
    return median_ms(fwd), median_ms(bwd), median_ms(tot), layers


def time_solver_step(iters, warmup):
    """Median ms of one SGD step (forward, backward, update) of LeNet on MemoryData."""
    import numpy as np

    from bench_data import MEMORY_INPUT

    _common.quiet_logs()
    with tempfile.TemporaryDirectory() as tmp:
        solver = _common.make_solver('name: "lenet" ' + MEMORY_INPUT + _common.student_lenet(),
                                     os.path.join(tmp, "s"))
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, size=(BATCH * 4, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, size=BATCH * 4).astype(np.float32)
        solver.net.set_input_arrays(x, y)
        solver.step(warmup)
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            solver.step(1)
            times.append(time.perf_counter() - t0)
    return median_ms(times)


def torch_step_ms(iters, warmup):
    """PyTorch's step in its own process; None (with the reason) if torch is not installed."""
    import json
    import subprocess

    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_torch.py")
    proc = subprocess.run([sys.executable, script, "--json", "--iters", str(iters),
                           "--warmup", str(warmup)], capture_output=True, text=True,
                          timeout=600)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return None, (proc.stderr.strip().splitlines() or ["failed"])[-1]
    result = json.loads(lines[-1])
    return result.get("ms"), result.get("reason")


def main(quick=False):
    from bench_lenet import CAFFE_MS, CAFFE_TOTAL, blas_info
    from caffe_compat import _malloc

    iters, warmup = (5, 2) if quick else (50, 5)
    with tempfile.TemporaryDirectory() as tmp:
        net = build_net(tmp)
        fwd, bwd, tot, layers = time_net(net, iters, warmup)
    print(f"LeNet Net (prototxt) batch {BATCH}, {iters} iterations, median ms; BLAS: "
          f"{blas_info()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"mallopt applied: {_malloc.applied}")
    print(f"{'layer':8} {'fwd':>7} {'bwd':>7}   {'caffe fwd':>9} {'caffe bwd':>9}")
    for name, (f, b) in layers.items():
        cf, cb = CAFFE_MS.get(name, (float("nan"),) * 2)
        print(f"{name:8} {f:7.3f} {b:7.3f}   {cf:9.2f} {cb:9.2f}")
    caffe_f, caffe_b = CAFFE_TOTAL
    rows = [
        row("LeNet forward (Net, b64, 1 thread) vs Caffe 1.0", fwd, caffe_f, "ms", target=1.0),
        row("LeNet backward (Net, b64, 1 thread) vs Caffe 1.0", bwd, caffe_b, "ms", target=1.0),
        row("LeNet fwd+bwd (Net, b64, 1 thread) vs Caffe 1.0", tot, caffe_f + caffe_b, "ms",
            target=1.0),
    ]
    step = time_solver_step(iters, warmup)
    torch_ms, reason = torch_step_ms(iters, warmup)
    if torch_ms is None:
        rows.append(row("LeNet SGD step vs PyTorch CPU (1 thread)", step, reason or "not installed",
                        "ms", verdict="not run"))
    else:
        rows.append(row("LeNet SGD step vs PyTorch CPU (1 thread)", step, torch_ms, "ms",
                        target=1.0))
    return rows


if __name__ == "__main__":
    print(_common.format_table(main(quick="--quick" in sys.argv)))
