"""Where an iteration's time goes, per net and thread count (``bench_nets.py --profile``).

    python bench/bench_nets.py --profile [--nets ...] [--threads 1 2] [--iters N] [--quick]

For ours, on each engine (TSCAFFE_ENGINE=CAFFE and the default), in a fresh process with
that many OpenBLAS threads: the Net's hooks time every layer's forward and backward over
the iterations; the times are summed by layer type, and the slowest layers listed. For
PyTorch (where installed): torch.profiler's self CPU time by aten op, and its forward by
Caffe layer type. Next to them the net's GEMM FLOPs, the SGEMM rate measured in the same
process (bench_nets' 256x2304x4096 product), the bound they give, and the net's GEMMs alone
at their im2col shapes: what the iteration would cost if it were only its GEMMs. Writes
``bench/results/profile_nets.md`` (a table per net) and ``profile_nets.json``.
"""
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
TOP = 6


def child(path, iters, warmup):
    """Runs in a fresh process (threads and engine from the environment): prints JSON."""
    sys.path.insert(0, REPO)
    sys.path.insert(0, HERE)
    from caffe_compat import TRAIN, Net, engines

    import numpy as np

    import gemm_bound

    net = Net(path, TRAIN)
    rng = np.random.default_rng(0)
    for name in net.inputs:
        blob = net.blobs[name]
        blob.data[...] = (rng.integers(0, 10, size=blob.shape) if name == "label"
                          else rng.uniform(0, 1, size=blob.shape))
    from _common import engine_picks, settle

    settle(net)  # the DEFAULT engine's candidates timed and picked
    for _ in range(warmup):
        net.forward_backward()
    names = list(net.layer_dict)
    fwd, bwd = collections.defaultdict(list), collections.defaultdict(list)
    start = {}

    def begin(i):
        start[i] = time.perf_counter()

    def end_into(table):
        return lambda i: table[i].append(time.perf_counter() - start[i])

    net.before_forward(begin)
    net.after_forward(end_into(fwd))
    net.before_backward(begin)
    net.after_backward(end_into(bwd))
    walls = []
    for _ in range(iters):
        t0 = time.perf_counter()
        net.forward_backward()
        walls.append(time.perf_counter() - t0)
    layers = []
    for i, layer in enumerate(net.layers):
        f = 1000 * statistics.median(fwd[i]) if fwd[i] else 0.0
        b = 1000 * statistics.median(bwd[i]) if bwd[i] else 0.0
        layers.append({"name": names[i], "type": layer.type, "forward_ms": f, "backward_ms": b})
    print(json.dumps({"engine": engines.get_engine(), "ms": 1000 * statistics.median(walls),
                      "layers": layers, "gflops": gemm_bound.sgemm_gflops(np),
                      "gemm_ms": gemm_bound.gemm_floor_ms(net, np), "picks": engine_picks(net)}))


def by_type(layers):
    table = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for x in layers:
        row = table[x["type"]]
        row[0] += x["forward_ms"]
        row[1] += x["backward_ms"]
        row[2] += 1
    return {k: {"forward_ms": v[0], "backward_ms": v[1], "count": v[2]} for k, v in table.items()}


def profile_ours(path, threads, iters, warmup, engine):
    import bench_nets
    from _common import run_child_json

    env = bench_nets.engine_env(engine, OPENBLAS_NUM_THREADS=str(threads),
                                OMP_NUM_THREADS=str(threads))
    r = run_child_json([os.path.abspath(__file__), "--child", path, "--iters", str(iters),
                        "--warmup", str(warmup)], env)
    r["by_type"] = by_type(r["layers"])
    r["top_layers"] = sorted(r["layers"], key=lambda x: -(x["forward_ms"] + x["backward_ms"]))[:TOP]
    del r["layers"]
    return r


def profile_torch(path, threads, iters, warmup):
    script = os.path.join(HERE, "bench_torch_net.py")
    proc = subprocess.run([sys.executable, script, path, "--iters", str(iters), "--warmup",
                           str(warmup), "--threads", str(threads), "--profile"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=REPO),
                          timeout=1800)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench_torch_net.py --profile failed on {path}:\n{proc.stderr[-2000:]}")
    r = json.loads(lines[-1])
    if r.get("ms") is None:
        return None
    r["by_op_ms"] = dict(list(r["by_op_ms"].items())[:12])
    return r


def markdown(p):
    """One net and thread count: the summary line and the table by layer type."""
    d, c, t = p["ours"]["DEFAULT"], p["ours"]["CAFFE"], p["torch"]
    bound = p["bound_ms"]
    lines = [f"### {p['net']}, {p['threads']} thread{'s' if p['threads'] > 1 else ''}", "",
             f"ours {d['ms']:.1f} ms (engine CAFFE {c['ms']:.1f} ms"
             + (f", FAST {p['ours']['FAST']['ms']:.1f} ms" if "FAST" in p["ours"] else "") + ")"
             + (f", PyTorch {t['ms']:.1f} ms: ours / PyTorch {d['ms'] / t['ms']:.2f}" if t else "")
             + f". GEMMs: {p['gemm_gflop']:.3f} GFLOP at {p['sgemm_gflops']:.0f} GF/s = SGEMM bound "
             f"{bound:.1f} ms (ours x{d['ms'] / bound:.2f}"
             + (f", PyTorch x{t['ms'] / bound:.2f}" if t else "")
             + f"); the net's GEMMs alone at their im2col shapes {d['gemm_ms']:.1f} ms, so "
             f"{max(d['ms'] - d['gemm_ms'], 0):.1f} ms of ours is outside the GEMMs.", "",
             "| layer type | count | ours fwd+bwd ms | ours, engine CAFFE fwd+bwd ms | "
             "PyTorch forward ms |", "|---|---|---|---|---|"]
    def total(k):
        x = d["by_type"].get(k) or c["by_type"][k]
        return x["forward_ms"] + x["backward_ms"]
    types = sorted(set(d["by_type"]) | set(c["by_type"]), key=lambda k: -total(k))
    for k in types:
        x, y = d["by_type"].get(k), c["by_type"].get(k)
        tf = t["forward_by_type_ms"].get(k) if t else None
        lines.append(f"| {k} | {(x or y)['count']} | "
                     + (f"{x['forward_ms']:.1f} + {x['backward_ms']:.1f}" if x else "-") + " | "
                     + (f"{y['forward_ms']:.1f} + {y['backward_ms']:.1f}" if y else "-") + " | "
                     + (f"{tf:.1f}" if tf is not None else "-") + " |")
    lines += ["", "What computes the layers with an engine choice: " + "; ".join(
        f"{e}: " + ", ".join(f"{n}x {k}" for k, n in o.get("picks", {}).items())
        for e, o in p["ours"].items())]
    lines += ["", "Slowest layers (ours, default engine): " + ", ".join(
        f"{x['name']} ({x['type']}) {x['forward_ms']:.1f} + {x['backward_ms']:.1f} ms"
        for x in d["top_layers"])]
    if t:
        lines += ["", "PyTorch self CPU by op (ms per iteration): " + ", ".join(
            f"{k} {v:.1f}" for k, v in list(t["by_op_ms"].items())[:8])]
    return "\n".join(lines) + "\n"


def main(quick=False, nets=None, threads=(1, 2), iters=None, out_dir=RESULTS, engines=None):
    sys.path.insert(0, HERE)
    import bench_nets
    from _common import header, versions

    nets = nets or list(bench_nets.NETS)
    info = versions()
    profiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in nets:
            path = bench_nets.write_net(name, tmp)
            flops = bench_nets.gemm_flops(path)
            n_iter = iters or (2 if quick else max(5, min(20, int(1e11 / flops))))
            warmup = 1 if quick else 3
            for t in threads:
                ours = {e: profile_ours(path, t, n_iter, warmup, e)
                        for e in dict.fromkeys(("DEFAULT", "CAFFE") + tuple(engines or ()))}
                torch = profile_torch(path, t, n_iter, warmup)
                rate = statistics.median([o["gflops"] for o in ours.values()])
                p = {"net": name, "threads": t, "iters": n_iter, "gemm_gflop": flops / 1e9,
                     "sgemm_gflops": rate, "bound_ms": 1000 * flops / (rate * 1e9),
                     "ours": ours, "torch": torch}
                profiles.append(p)
                print(markdown(p), flush=True)
    os.makedirs(out_dir, exist_ok=True)
    text = (f"# Profile of bench_nets' nets ({time.strftime('%Y-%m-%d')}, "
            f"`python bench/bench_nets.py --profile{' --quick' if quick else ''}`)\n\n"
            f"{header(info)}\n\n" + "\n".join(markdown(p) for p in profiles))
    with open(os.path.join(out_dir, "profile_nets.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "profile_nets.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "versions": info, "profiles": profiles},
                  f, indent=2)
    return profiles


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", required=True)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    child(a.child, a.iters, a.warmup)
