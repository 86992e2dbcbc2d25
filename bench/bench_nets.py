"""Forward + backward per iteration of every net users run, against real Caffe 1.0 and PyTorch.

    python bench/bench_nets.py [--nets lenet nin ...] [--threads 1 2] [--rounds 5]
                               [--iters N] [--quick] [--json OUT]
    python bench/bench_nets.py --check [--nets ...]      # the PyTorch peer computes what we do
    python bench/bench_nets.py --profile [--nets ...]    # where the time goes (profile_nets.py)

Nets (rendered from the templates, data layers swapped for Input layers, phase TRAIN, so
the same prototxt file goes to all three): LeNet (MNIST, batch 64), cifar10_quick and
cifar10_full (batch 100, Caffe's examples), NIN (CIFAR-10, batch 128) and VGG-16 (13
convolutions + 3 inner products, 1x28x28 MNIST input, batch 64) at width 0.25, and as the
distill student trains it (width 0.125 with BatchNorm + Scale); and the published
ResNet-50, GoogLeNet, SqueezeNet 1.1 and MobileNet v1 deploy nets (tests/data/zoo, batch 1,
force_backward, phase TRAIN as ``caffe time`` runs them).

For each net and each thread count, rounds alternate: ``caffe time`` (its own OpenBLAS with
that many threads, Average Forward + Backward pass), ours in a fresh process on each engine
(``TSCAFFE_ENGINE=CAFFE``: Caffe's order everywhere; unset: each layer's ``engine`` field,
DEFAULT taking the fastest engine; numpy's OpenBLAS with that many threads, set before numpy
loads; the Net's forward_backward, median over the round's iterations), and PyTorch CPU
where torch is installed (bench_torch_net.py: the same prototxt built in torch with Caffe's
semantics, ``torch.set_num_threads``). Medians over rounds are compared; min and max are
printed. Ratios: ours (CAFFE engine) / real Caffe, and ours (default engine) / PyTorch.
The SGEMM bound is the net's GEMM FLOPs (convolutions and inner products, forward and
backward, the data's gradient only with force_backward) at the SGEMM rate measured in the
same child process (a 256x2304x4096 product). The header and the JSON record numpy's,
onnxruntime's and torch's versions and the OpenBLAS kernel (threadpoolctl's
``architecture``; real Caffe's from its OPENBLAS_VERBOSE line).
Targets: ours (CAFFE) / Caffe <= 0.8 (issue 13), ours / PyTorch <= 1.0 (issue 22), and ours
<= 2x the SGEMM bound.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import engine_picks, header, run_child_json, settle, versions
from gemm_bound import gemm_flops, gemm_floor_ms, gemm_shapes, sgemm_gflops  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# name -> (arch, member options, sample shape, batch)
NETS = {
    "lenet": ("lenet", {}, (1, 28, 28), 64),
    "cifar10_quick": ("cifar10_quick", {}, (3, 32, 32), 100),
    "cifar10_full": ("cifar10_full", {}, (3, 32, 32), 100),
    "nin": ("nin", {}, (3, 32, 32), 128),
    "vgg16_w0.25": ("vgg16", {"width": 0.25, "dropout": False}, (1, 28, 28), 64),
    # The VGG-16 student as `tscaffe distill --student vgg16` trains it: width 0.125,
    # BatchNorm + Scale after every convolution.
    "vgg16_student": ("vgg16", {"width": 0.125, "dropout": False, "bn": True, "filler": "msra"},
                      (1, 28, 28), 64),
    # Published ImageNet nets (tests/data/zoo, deploy prototxts with force_backward), batch 1:
    # what a user fine-tuning them on a CPU runs.
    "resnet50": ("zoo", {}, (3, 224, 224), 1),
    "googlenet": ("zoo", {}, (3, 224, 224), 1),
    "squeezenet_v1.1": ("zoo", {}, (3, 227, 227), 1),
    "mobilenet_v1": ("zoo", {}, (3, 224, 224), 1),
}
TARGET_CAFFE = 0.8
TARGET_TORCH = 1.0
TARGET_BOUND = 2.0


def write_net(name, folder):
    """The net's TRAIN prototxt with Input layers; its path."""
    sys.path.insert(0, REPO)
    from caffe_compat.proto import caffe_pb2
    from google.protobuf import text_format
    from prototxt.netedit import swap_data_for_input
    from prototxt.io import to_text
    from prototxt.render import render_config

    arch, opts, shape, batch = NETS[name]
    if arch == "zoo":
        return write_zoo_net(name, folder)
    cfg = {"nets": {name: {
        "name": name,
        "data": [{"name": "data", "phase": "TRAIN", "source": "unused", "batch_size": batch,
                  "backend": "LMDB", "transform": {}}],
        "model": dict({"arch": arch, "tag": "", "num_classes": 10}, **opts)}}}
    text = render_config(cfg)[f"{name}.prototxt"]
    param = text_format.Parse(text, caffe_pb2.NetParameter())
    param = swap_data_for_input(param, shape, batch, phase=caffe_pb2.TRAIN)
    path = os.path.join(folder, f"{name}.prototxt")
    with open(path, "w") as f:
        f.write(to_text(param))
    return path


def write_zoo_net(name, folder):
    """A published net of tests/data/zoo as tests/test_zoo_nets.py runs it (batch 1,
    force_backward, so that backward runs through every layer on both sides)."""
    sys.path.insert(0, os.path.join(REPO, "tests"))
    import zoo_nets

    path = os.path.join(folder, f"{name}.prototxt")
    with open(path, "w") as f:
        f.write(zoo_nets.run_text(name))
    return path


# ------------------------------------------------------------------------ child: ours

def child(path, iters, warmup, threads):
    """Runs in a fresh process with OPENBLAS_NUM_THREADS set: prints JSON of ms."""
    sys.path.insert(0, REPO)
    # caffe_compat before numpy, as in the tscaffe command (its OpenBLAS setting needs that).
    from caffe_compat import TRAIN, Net

    import numpy as np

    from _common import net_inputs

    net = Net(path, TRAIN)
    net_inputs(net, np, np.random.default_rng(0))
    settled = settle(net)  # the DEFAULT engine's candidates timed and picked
    for _ in range(warmup):
        net.forward_backward()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        net.forward_backward()
        times.append(time.perf_counter() - t0)
    floor = gemm_floor_ms(net, np)
    gflops = sgemm_gflops(np)
    print(json.dumps({"ms": 1000 * statistics.median(times), "gflops": gflops, "gemm_ms": floor,
                      "settle_iterations": settled, "picks": engine_picks(net)}))


ENGINES = ("DEFAULT", "CAFFE")  # timed by default; --engines adds FAST
ALL_ENGINES = ("DEFAULT", "CAFFE", "FAST")


def engine_env(engine, **extra):
    """The environment of a child of ours on ``engine``: TSCAFFE_ENGINE=CAFFE or FAST, or
    unset for DEFAULT (each layer's field)."""
    env = dict(os.environ, PYTHONPATH=REPO, **extra)
    env.pop("TSCAFFE_ENGINE", None)
    if engine != "DEFAULT":
        env["TSCAFFE_ENGINE"] = engine
    return env


def ours(path, iters, warmup, threads, engine="DEFAULT"):
    env = engine_env(engine, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    return run_child_json([os.path.abspath(__file__), "--child", path, "--iters", str(iters),
                           "--warmup", str(warmup), "--threads", str(threads)], env)


def caffe(path, iters, threads):
    """Real Caffe's (Average Forward + Backward pass ms, OpenBLAS core), or (None, None)
    (no binary, or it failed)."""
    import bench_lenet

    binary = bench_lenet.find_caffe()
    result = None if binary is None else bench_lenet.caffe_time(binary, path, iters, threads)
    return (None, None) if result is None else (result[1] + result[2], result[3])


def torch_ms(path, iters, warmup, threads):
    """PyTorch CPU on the same net, in its own process; None when torch is not installed."""
    script = os.path.join(HERE, "bench_torch_net.py")
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, script, path, "--iters", str(iters), "--warmup",
                           str(warmup), "--threads", str(threads)],
                          capture_output=True, text=True, env=env, timeout=1800)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        # torch installed but the net did not run: say so, do not print a dash silently
        raise RuntimeError(f"bench_torch_net.py failed on {path}:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1]).get("ms")


def spread(values):
    return f"{min(values):.1f}-{max(values):.1f}"


def _median(values):
    return statistics.median(values) if values else None


def main(quick=False, nets=None, threads=(1, 2), rounds=None, iters=None, out_json=None,
         engines=ENGINES):
    sys.path.insert(0, HERE)
    import _common

    rounds = rounds or (1 if quick else 5)
    nets = nets or list(NETS)
    info = versions()
    print(header(info), flush=True)
    results, cores = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for name in nets:
            path = write_net(name, tmp)
            flops = gemm_flops(path)
            n_iter = iters or (2 if quick else max(5, min(50, int(3e11 / flops))))
            warmup = 2 if quick else 3
            for t in threads:
                engines = tuple(dict.fromkeys(("DEFAULT", "CAFFE") + tuple(engines)))
                mine, picks = {e: [] for e in engines}, {}
                theirs, torch_runs, rates, floors = [], [], [], []
                for _ in range(rounds):  # interleaved: Caffe, ours on each engine, PyTorch
                    c, core = caffe(path, n_iter, t)
                    if c is not None:
                        theirs.append(c)
                        cores.add(core)
                    for engine in engines:
                        o = ours(path, n_iter, warmup, t, engine)
                        picks[engine] = o.get("picks")
                        mine[engine].append(o["ms"])
                        rates.append(o["gflops"])
                        floors.append(o["gemm_ms"])
                    p = torch_ms(path, n_iter, warmup, t)
                    if p is not None:
                        torch_runs.append(p)
                bound = 1000 * flops / (statistics.median(rates) * 1e9)
                r = {"net": name, "threads": t, "rounds": rounds, "iters": n_iter,
                     "ours_ms": statistics.median(mine["DEFAULT"]),
                     "ours_range": spread(mine["DEFAULT"]),
                     "ours_caffe_engine_ms": statistics.median(mine["CAFFE"]),
                     "ours_caffe_engine_range": spread(mine["CAFFE"]),
                     "caffe_ms": _median(theirs), "caffe_range": spread(theirs) if theirs else None,
                     "torch_ms": _median(torch_runs),
                     "torch_range": spread(torch_runs) if torch_runs else None,
                     **{f"ours_{e.lower()}_engine_ms": statistics.median(mine[e])
                        for e in engines if e not in ("DEFAULT", "CAFFE")},
                     "gemm_gflop": flops / 1e9, "sgemm_gflops": statistics.median(rates),
                     "bound_ms": bound, "gemm_ms": statistics.median(floors), "engines": picks}
                results.append(r)
                print(format_result(r), flush=True)
    info["caffe_openblas_core"] = ", ".join(sorted(cores)) or None
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "versions": info, "results": results},
                      f, indent=2)
    print()
    print(header(info, info["caffe_openblas_core"]))
    print(markdown_table(results))
    rows = []
    for r in results:
        thr = f"{r['threads']} thread{'s' if r['threads'] > 1 else ''}"
        label = f"{r['net']} fwd+bwd ({thr}, engine CAFFE) vs Caffe 1.0"
        if r["caffe_ms"] is None:
            rows.append(_common.row(label, r["ours_caffe_engine_ms"], "no caffe binary", "ms",
                                    verdict="not run"))
        else:
            rows.append(_common.row(label, r["ours_caffe_engine_ms"], r["caffe_ms"], "ms",
                                    target=TARGET_CAFFE))
        if r["torch_ms"] is not None:
            rows.append(_common.row(f"{r['net']} fwd+bwd ({thr}, engine DEFAULT) vs PyTorch CPU",
                                    r["ours_ms"], r["torch_ms"], "ms", target=TARGET_TORCH))
        rows.append(_common.row(f"{r['net']} fwd+bwd ({r['threads']} thr) vs SGEMM bound",
                                r["ours_ms"], r["bound_ms"], "ms", target=TARGET_BOUND))
    return rows


def format_result(r):
    text = (f"{r['net']:14} {r['threads']} thr: ours {r['ours_ms']:.1f} ms [{r['ours_range']}], "
            f"engine CAFFE {r['ours_caffe_engine_ms']:.1f} ms [{r['ours_caffe_engine_range']}]")
    if r.get("ours_fast_engine_ms"):
        text += f", engine FAST {r['ours_fast_engine_ms']:.1f} ms"
    if r["caffe_ms"]:
        text += (f", Caffe {r['caffe_ms']:.1f} ms [{r['caffe_range']}], CAFFE/Caffe "
                 f"{r['ours_caffe_engine_ms'] / r['caffe_ms']:.2f}")
    if r["torch_ms"]:
        text += (f", PyTorch {r['torch_ms']:.1f} ms [{r['torch_range']}], ours/PyTorch "
                 f"{r['ours_ms'] / r['torch_ms']:.2f}")
    text += (f", SGEMM bound {r['bound_ms']:.1f} ms ({r['gemm_gflop']:.2f} GFLOP at "
             f"{r['sgemm_gflops']:.0f} GF/s), x{r['ours_ms'] / r['bound_ms']:.2f}")
    if r.get("gemm_ms"):
        text += f"; its GEMMs alone at their shapes {r['gemm_ms']:.1f} ms (x{r['gemm_ms'] / r['bound_ms']:.2f})"
    return text


def markdown_table(results):
    fast = any(r.get("ours_fast_engine_ms") for r in results)
    lines = ["| net | threads | ours ms | ours, engine CAFFE ms | "
             + ("ours, engine FAST ms | " if fast else "") + "real Caffe 1.0 ms | "
             "CAFFE / Caffe | PyTorch CPU ms | ours / PyTorch | SGEMM bound ms | ours / bound | "
             "its GEMMs alone ms (/ bound) |",
             "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if fast else "")]
    for r in results:
        c, t, g = r["caffe_ms"], r["torch_ms"], r.get("gemm_ms")
        e = r.get("ours_caffe_engine_ms")
        engine_cell = f"{e:.1f} ({r['ours_caffe_engine_range']})" if e else "-"
        if fast:
            f = r.get("ours_fast_engine_ms")
            engine_cell += f" | {f:.1f}" if f else " | -"
        caffe_cells = (f"{c:.1f} ({r['caffe_range']}) | {e / c:.2f}" if c and e
                       else f"{c:.1f} ({r['caffe_range']}) | -" if c else "- | -")
        torch_cells = f"{t:.1f} | {r['ours_ms'] / t:.2f}" if t else "- | -"
        gemm_cell = f"{g:.1f} ({g / r['bound_ms']:.2f})" if g else "-"
        lines.append(f"| {r['net']} | {r['threads']} | {r['ours_ms']:.1f} ({r['ours_range']}) | "
                     f"{engine_cell} | {caffe_cells} | {torch_cells} | {r['bound_ms']:.1f} | "
                     f"{r['ours_ms'] / r['bound_ms']:.2f} | {gemm_cell} |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--nets", nargs="*", choices=list(NETS))
    ap.add_argument("--threads", type=int, nargs="*", default=None)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--iters", type=int)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--engines", nargs="*", choices=ALL_ENGINES,
                    help="ours on these TSCAFFE_ENGINE settings (timing, --profile: DEFAULT and "
                         "CAFFE always; --check: all three unless given)")
    ap.add_argument("--check", action="store_true",
                    help="PyTorch peer vs ours on the same weights, every net, every engine")
    ap.add_argument("--profile", action="store_true",
                    help="time by layer type for ours (each engine) and PyTorch (bench/profile_nets.py)")
    a = ap.parse_args()
    if a.child:
        child(a.child, a.iters, a.warmup, (a.threads or [1])[0])
    elif a.check:
        import check_torch_net

        raise SystemExit(0 if check_torch_net.check_all(a.nets, (a.threads or [1])[0],
                                                        a.engines) else 1)
    elif a.profile:
        import profile_nets

        profile_nets.main(a.quick, a.nets, tuple(a.threads or (1, 2)), a.iters,
                          engines=a.engines)
    else:
        main(a.quick, a.nets, tuple(a.threads or (1, 2)), a.rounds, a.iters, a.json,
             a.engines or ENGINES)
