"""Caffe's MNIST LeNet through the Net, batch 64, one BLAS thread, vs real Caffe 1.0.

    python bench/bench_lenet.py [--iters 50] [--warmup 5] [--quick]

The net is Caffe's examples/mnist/lenet_train_test.prototxt (conv1 20 k5 -> max 2/2 ->
conv2 50 k5 -> max 2/2 -> ip1 500 -> relu -> ip2 10 -> SoftmaxWithLoss; xavier fillers)
with two Input layers instead of its data layers, written to a prototxt file and built by
``Net(path, TRAIN)``, so the Net's own rules decide what runs backward (nothing into the
data or the labels), as in Caffe. Per-layer forward (reshape + forward, as Caffe's
Layer::Forward) and backward times come from the Net's hooks and are printed next to real
Caffe 1.0's `caffe time` figures (CPU, OpenBLAS, one thread, this kind of machine) with
ratios (ours / Caffe; < 1 is faster). A full solver iteration (clear diffs, forward,
backward, the lenet_solver SGD update) is timed too.

Where real Caffe is installed (``caffe`` on PATH, or CAFFE_BIN=/path/to/caffe), the baseline is
measured in the same run: ``caffe time`` on the very same prototxt, one OpenBLAS thread,
interleaved with our rounds (Caffe, ours, Caffe, ours, ...; medians over rounds). Without it,
the baseline is the performance notes' figures for this kind of machine, and the run measures
a reference SGEMM (conv2's forward product) to tell a slow run from a loaded machine.
On Debian 12, Debian 11's package of Caffe 1.0 (the same 99bd997 revision as our schema)
installs beside everything else:
    echo "deb http://deb.debian.org/debian bullseye main" > /etc/apt/sources.list.d/bullseye.list
    apt-get update && apt-get install -t bullseye caffe libopenblas0-pthread
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy is imported, like Caffe's run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

# Caffe's examples/mnist/lenet_train_test.prototxt, without its data layers.
LENET = _common.LENET_BODY

INPUTS = """name: "LeNet"
layer {{ name: "data" type: "Input" top: "data"
  input_param {{ shape {{ dim: {b} dim: 1 dim: 28 dim: 28 }} }} }}
layer {{ name: "label" type: "Input" top: "label" input_param {{ shape {{ dim: {b} }} }} }}
"""

# Caffe's examples/mnist/lenet_solver.prototxt (no test net, display, snapshot).
SOLVER = """base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 lr_policy: "inv"
gamma: 0.0001 power: 0.75 display: 0 max_iter: 1000000 snapshot: 0 random_seed: 1
type: "SGD" snapshot_prefix: "{prefix}" net: "{net}" """

# Real Caffe 1.0, `caffe time`, 1 thread, this machine type (performance notes), used when
# no caffe binary is installed: forward / backward ms.
CAFFE_MS = {"conv1": (1.00, 1.07), "pool1": (0.89, 0.30), "conv2": (3.23, 6.06),
            "pool2": (0.55, 0.37), "ip1": (0.53, 1.01)}
CAFFE_TOTAL = (6.0, 8.6)
# float32 SGEMM of the reference shape on an idle core, Haswell kernel (performance notes).
IDLE_SGEMM_GFLOPS = 127
BATCH = 64


def write_prototxt(folder, batch=BATCH):
    path = os.path.join(folder, "lenet_bench.prototxt")
    with open(path, "w") as f:
        f.write(INPUTS.format(b=batch) + LENET)
    return path


def fill_inputs(net, batch=BATCH):
    import numpy as np

    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.uniform(0, 1, size=(batch, 1, 28, 28))
    net.blobs["label"].data[...] = rng.integers(0, 10, size=batch)


def build_net(folder, batch=BATCH):
    from caffe_compat import TRAIN, Net

    net = Net(write_prototxt(folder, batch), TRAIN)
    fill_inputs(net, batch)
    return net


def build_solver(folder, batch=BATCH):
    from google.protobuf import text_format

    from caffe_compat.proto import caffe_pb2
    from caffe_compat.solvers import get_solver

    text = SOLVER.format(prefix=os.path.join(folder, "s"), net=write_prototxt(folder, batch))
    solver = get_solver(text_format.Parse(text, caffe_pb2.SolverParameter()))
    fill_inputs(solver.net, batch)
    return solver


def per_layer_clock(net):
    """Hooks that record each layer's forward and backward seconds into the returned dicts."""
    names = list(net._layer_names)
    fwd, bwd = {n: [] for n in names}, {n: [] for n in names}
    start = {}

    def begin(i):
        start[i] = time.perf_counter()

    def end(store):
        return lambda i: store[names[i]].append(time.perf_counter() - start[i])

    net.before_forward(begin)
    net.after_forward(end(fwd))
    net.before_backward(begin)
    net.after_backward(end(bwd))
    return names, fwd, bwd


def reference_gemm():
    """A closure running conv2's forward product (50x500 @ 500x4096, float32) once."""
    import numpy as np

    rng = np.random.default_rng(1)
    a = rng.standard_normal((50, 500), dtype=np.float32)
    b = rng.standard_normal((500, 4096), dtype=np.float32)
    c = np.empty((50, 4096), np.float32)
    return lambda: np.matmul(a, b, out=c), 2 * 50 * 500 * 4096


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} threads={i.get('num_threads')}"
        for i in threadpool_info() if i.get("user_api") == "blas")


def measure(iters, warmup, batch=BATCH):
    """Interleaved: net forward+backward, solver step, reference GEMM, per round."""
    import logging

    logging.disable(logging.INFO)
    os.environ["GLOG_minloglevel"] = "1"  # the solver's glog INFO lines
    with tempfile.TemporaryDirectory() as tmp:
        net = build_net(tmp, batch)
        solver = build_solver(tmp, batch)
        names, fwd, bwd = per_layer_clock(net)
        gemm, flops = reference_gemm()
        t = {"fwd": [], "bwd": [], "total": [], "step": [], "gemm": []}
        for _ in range(warmup):
            net.forward_backward()
            solver.step(1)
            gemm()
        for n in names:
            fwd[n].clear()
            bwd[n].clear()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(iters):
            t0 = time.perf_counter()
            net.forward_from_to(0, len(net.layers) - 1)
            t1 = time.perf_counter()
            net.backward_from_to(len(net.layers) - 1, 0)
            t2 = time.perf_counter()
            solver.step(1)
            t3 = time.perf_counter()
            gemm()
            t4 = time.perf_counter()
            for key, value in zip(t, (t1 - t0, t2 - t1, t2 - t0, t3 - t2, t4 - t3)):
                t[key].append(value)
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
    faults = (usage1.ru_minflt - usage0.ru_minflt) / iters
    sys_ms = 1000 * (usage1.ru_stime - usage0.ru_stime) / iters
    ms = {k: 1000 * statistics.median(v) for k, v in t.items()}
    layers = {n: (1000 * statistics.median(fwd[n]), 1000 * statistics.median(bwd[n])) for n in names}
    gflops = flops / statistics.median(t["gemm"]) / 1e9
    return ms, layers, gflops, faults, sys_ms


def find_caffe():
    """The real Caffe binary to time against: $CAFFE_BIN, else ``caffe`` on PATH, else None."""
    path = os.environ.get("CAFFE_BIN") or shutil.which("caffe")
    return path if path and os.access(path, os.X_OK) else None


CAFFE_TIME_LINE = re.compile(r"caffe\.cpp:\d+\]\s+(\S+)\s+(forward|backward): ([-+\d.e]+) ms")
CAFFE_AVERAGE = re.compile(r"Average (Forward|Backward) pass: ([-+\d.e]+) ms")


def caffe_time(caffe, prototxt, iters, threads=1):
    """``caffe time -model prototxt -iterations iters`` with ``threads`` OpenBLAS threads:
    ({layer: (fwd ms, bwd ms)}, fwd ms, bwd ms, kernel) parsed from its log, or None if it
    failed."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               GLOG_logtostderr="1",
               GLOG_minloglevel="0",  # its INFO lines carry the times
               OPENBLAS_VERBOSE="2")  # and OpenBLAS names the kernel it picked
    ours = sys.modules.get("caffe_compat")
    if ours is not None and getattr(ours, "_OPENBLAS_SPIN_SET_HERE", False):
        # caffe_compat shortened OpenBLAS's idle spin for its own threads; Caffe keeps
        # OpenBLAS's default, as its users run it.
        env.pop("OPENBLAS_THREAD_TIMEOUT", None)
    proc = subprocess.run([caffe, "time", "-model", prototxt, "-iterations", str(iters)],
                          capture_output=True, text=True, env=env, timeout=900)
    log = proc.stdout + proc.stderr
    layers = {}
    for name, which, value in CAFFE_TIME_LINE.findall(log):
        f, b = layers.get(name, (None, None))
        layers[name] = (float(value), b) if which == "forward" else (f, float(value))
    averages = dict(CAFFE_AVERAGE.findall(log))
    if proc.returncode != 0 or set(averages) != {"Forward", "Backward"}:
        return None
    core = re.search(r"^Core: (\S+)", log, re.M)
    return layers, float(averages["Forward"]), float(averages["Backward"]), core.group(1) if core else "?"


def _median_results(results):
    """Per-key medians over rounds of caffe_time results."""
    layers = {n: tuple(statistics.median(r[0][n][k] for r in results) for k in (0, 1))
              for n in results[0][0]}
    return layers, statistics.median(r[1] for r in results), statistics.median(r[2] for r in results)


def _row(name, ours, baseline, target=None):
    return _common.row(name, ours, baseline, "ms", target=target,
                       verdict=None if target is not None else "info")


def main(quick=False, iters=None, warmup=None, batch=BATCH, rounds=None):
    """Print the per-layer table; return result rows (name, ours, baseline, unit, ratio,
    target, verdict) for the bench runner."""
    iters = iters or (5 if quick else 50)
    warmup = warmup or (2 if quick else 5)
    rounds = rounds or (1 if quick else 3)
    caffe = find_caffe()
    ours, measured = [], []
    with tempfile.TemporaryDirectory() as tmp:
        prototxt = write_prototxt(tmp, batch)
        for _ in range(rounds):  # interleaved: Caffe, ours, Caffe, ours, ...
            if caffe:
                result = caffe_time(caffe, prototxt, iters)
                if result is not None:
                    measured.append(result)
            ours.append(measure(iters, warmup, batch))
    ms = {k: statistics.median(r[0][k] for r in ours) for k in ours[0][0]}
    layers = {n: tuple(statistics.median(r[1][n][k] for r in ours) for k in (0, 1)) for n in ours[0][1]}
    gflops = statistics.median(r[2] for r in ours)
    faults = statistics.median(r[3] for r in ours)
    sys_ms = statistics.median(r[4] for r in ours)
    if measured:
        caffe_layers, cf, cb = _median_results(measured)
        caffe_ms = {n: v for n, v in caffe_layers.items() if n in CAFFE_MS}
        source = (f"real Caffe 1.0 measured in this run ({caffe} time, 1 OpenBLAS thread, "
                  f"kernel={measured[0][3]}, {len(measured)} interleaved rounds of {iters} iterations)")
    else:
        caffe_ms, (cf, cb) = CAFFE_MS, CAFFE_TOTAL
        source = ("the performance notes' figures for real Caffe 1.0 on this kind of machine "
                  + ("(caffe time failed here)" if caffe else "(no caffe binary installed)"))
    from caffe_compat import _malloc

    print(f"LeNet through the Net, batch {batch}, {iters} iterations x {rounds} rounds (median ms); "
          f"BLAS: {blas_info()}")
    print(f"Caffe baseline: {source}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"mallopt thresholds raised: {_malloc.applied}; per round: {faults:.0f} minor page "
          f"faults, {sys_ms:.2f} ms system time; reference SGEMM (50x500x4096) {gflops:.0f} GF/s "
          f"(about {IDLE_SGEMM_GFLOPS} on an idle core with the Haswell kernel: lower means a "
          f"loaded machine)")
    print(f"{'layer':8} {'fwd':>7} {'bwd':>7}   {'caffe fwd':>9} {'caffe bwd':>9}   {'ratio fwd':>9} {'ratio bwd':>9}")
    rows = []
    for n, (f, b) in layers.items():
        line = f"{n:8} {f:7.3f} {b:7.3f}"
        if n in caffe_ms:
            lf, lb = caffe_ms[n]
            line += f"   {lf:9.2f} {lb:9.2f}   {f / lf:9.2f} {b / lb:9.2f}"
        print(line)
    tf, tb, tt, step = ms["fwd"], ms["bwd"], ms["total"], ms["step"]
    print(f"{'forward':8} {tf:7.3f} {'':7}   {cf:9.2f} {'':9}   {tf / cf:9.2f}")
    print(f"{'backward':8} {'':7} {tb:7.3f}   {'':9} {cb:9.2f}   {'':9} {tb / cb:9.2f}")
    print(f"total fwd+bwd {tt:.3f} ms vs Caffe {cf + cb:.1f} ms: ratio {tt / (cf + cb):.2f}")
    print(f"solver iteration (fwd+bwd+SGD update) {step:.3f} ms vs Caffe's fwd+bwd {cf + cb:.1f} ms: "
          f"ratio {step / (cf + cb):.2f}")
    # The notes' figures are from an idle core: on a loaded one, scale ours by the reference
    # SGEMM's slowdown for a rough like-for-like view (GEMMs are about half the time).
    scale = min(1.0, gflops / IDLE_SGEMM_GFLOPS)
    if not measured:
            print(f"scaled by the reference SGEMM's rate ({gflops:.0f} / {IDLE_SGEMM_GFLOPS} GF/s): "
              f"fwd+bwd ~{tt * scale:.1f} ms, solver iteration ~{step * scale:.1f} ms (rough: not "
              f"every operation slows down like a GEMM)")
    rows.append(_common.row("Caffe baseline", "measured" if measured else "notes' figures", None,
                            "", verdict="info"))
    rows += [
        _row("LeNet forward (Net, b64, 1 thread) vs Caffe 1.0", tf, cf, 1.0),
        _row("LeNet backward (Net, b64, 1 thread) vs Caffe 1.0", tb, cb, 1.0),
        _row("LeNet fwd+bwd (Net, b64, 1 thread) vs Caffe 1.0", tt, cf + cb, 1.0),
        _row("LeNet solver iteration (fwd+bwd+SGD) vs Caffe 1.0 fwd+bwd", step, cf + cb, 1.0),
    ]
    torch_ms, reason = torch_step_ms(iters, warmup)
    if torch_ms is None:
        rows.append(_common.row("LeNet solver iteration vs PyTorch CPU (1 thread)", step,
                                reason or "not installed", "ms", verdict="not run"))
    else:
        rows.append(_row("LeNet solver iteration vs PyTorch CPU (1 thread)", step, torch_ms, 1.0))
    return rows


def torch_step_ms(iters, warmup):
    """PyTorch's step in its own process (a process that imports torch hides numpy's malloc
    costs); (None, reason) if torch is not installed."""
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


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    ap.add_argument("--quick", action="store_true", help="a few iterations (a smoke test)")
    args = ap.parse_args()
    main(quick=args.quick, iters=args.iters, warmup=args.warmup, batch=args.batch, rounds=args.rounds)
