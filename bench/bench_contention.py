"""Training speed on a quiet and on a busy machine: the default thread count against one thread.

    python bench/bench_contention.py [--nets lenet cifar10_quick] [--rounds 3] [--iters N]
                                     [--competitors 2] [--quick] [--json OUT]

A busy machine is this one with ``--competitors`` CPU-bound processes (pure-Python loops)
started by the benchmark and stopped after each measurement. For each net (bench_nets'
TRAIN nets with Input layers: LeNet batch 64, cifar10_quick batch 100) and each round, the
conditions alternate (quiet, busy) and within each the modes alternate, each in a fresh
process running ``Net.forward_backward``:

- ``default``: no thread variable set (the count is measured: caffe_compat.thread_tuner);
- ``1 thread``: ``TSCAFFE_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` (one core, as Caffe's
  one-thread run);
- ``pinned N``: ``TSCAFFE_NUM_THREADS=N``, N = the CPUs (the fixed count the default was
  before it was measured).

Per process: ms per iteration = wall time of all timed iterations / their number, so the
trials the default runs are paid for in its figure; also the median, the counts the tuner
chose, and the minor page faults per iteration (over the run, and over its second half:
the steady state, where a per-iteration allocation would show). Medians over rounds are compared:

- busy ratio = busy default ms / busy 1-thread ms (target <= 1.0: the default is at least
  as fast as one thread under load);
- quiet ratio = quiet default ms / quiet pinned-N ms (target <= 1.05: quiet speed kept);
- fair share = busy default ms / (quiet 1-thread ms x (competitors + 1) / CPUs) (what a
  process gets when the CPUs are shared evenly; < 1 is better than an even share);
- per round, the busy default / 1 thread of that round's two processes (the same
  competitors: paired), and the CPU time (user + system) per iteration of each mode: the
  work a process did, whatever share of the CPUs the scheduler gave it (under load the wall
  time of a one-thread process varies by a third from run to run with where it is placed,
  so the paired ratios show the spread of the busy ratio and the CPU ratio whether the
  default did more work);
- **side by side**: in each round the ``default`` and ``1 thread`` processes also run at
  the same time, each the other's competitor, with ``--competitors`` - 1 of ours (each of the
  two sees ``--competitors`` CPU-bound competitors); each holds on, iterating untimed, until
  the other has finished its timed iterations, and the order they start in alternates by
  round. With three CPU-bound processes on two CPUs the scheduler leaves one alone on a CPU
  for seconds at a time (a one-thread LeNet run of 300 iterations took 19 or 34 ms per
  iteration by its median depending on which), so these runs are ``--side-iters`` long
  (default 5 x ``--iters``) for the placement to even out. Both meet the same load at the
  same moments (target <= 1.0, as the busy ratio), but not the same placement:
  ``bench/contention_aa.py`` runs two identical one-thread processes this way, and on 2
  vCPUs their ratio spreads 0.85-1.15, so a side-by-side median reads only against that
  spread;
- the same two ratios of the per-iteration **medians** ("steady": the iterations after the
  start-up, where a long run spends its time; the start-up's thread trials and the fast
  engine's kernel timing at each count fall in the mean, not in the median), and the
  start-up's cost: (mean - median) x iterations, in seconds, for the default.

On a machine that other work also loads, "quiet" means "without our competitors": say so
when reporting.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from _common import run_child_json

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
THREAD_VARS = ("TSCAFFE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ITERS = {"lenet": 300, "cifar10_quick": 150}
TARGET_BUSY = 1.0
TARGET_QUIET = 1.05
HOLD_SECONDS = 300
SIDE_FACTOR = 5   # side-by-side runs are this many times longer (the placement evens out)
SIDE_BY_SIDE = ("default", "1 thread")


def child(path, iters, warmup, hold=None, hold_count=0):
    """In a fresh process: JSON of ms per iteration (mean, median), chosen counts, faults.
    ``hold``: a folder; after the timed iterations the child writes its mark there and goes
    on iterating (untimed) until ``hold_count`` marks are there (at most HOLD_SECONDS), so
    that side-by-side processes load each other for all of each one's timed iterations."""
    sys.path.insert(0, REPO)
    from caffe_compat import TRAIN, Net, blas_threads, parallel  # before numpy, as tscaffe

    import numpy as np

    net = Net(path, TRAIN)
    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.uniform(0, 1, size=net.blobs["data"].shape)
    net.blobs["label"].data[...] = rng.integers(0, 10, size=net.blobs["label"].shape)
    for _ in range(warmup):
        net.forward_backward()
    times = []
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    faults0 = usage0.ru_minflt
    half = iters // 2
    start = time.perf_counter()
    for i in range(iters):
        if i == half:
            faults_half = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        net.forward_backward()
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    end = usage1.ru_minflt
    faults = end - faults0
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    if hold:
        with open(os.path.join(hold, f"done-{os.getpid()}"), "w"):
            pass
        until = time.monotonic() + HOLD_SECONDS
        while len(os.listdir(hold)) < hold_count and time.monotonic() < until:
            net.forward_backward()
    tuner = parallel.tuner(net)
    print(json.dumps({
        "ms": 1000 * total / iters, "median_ms": 1000 * statistics.median(times),
        "cpu_ms": 1000 * cpu / iters,
        "faults_per_iter": faults / iters, "final_threads": parallel.num_threads(),
        "steady_faults_per_iter": (end - faults_half) / max(iters - half, 1),
        "blas": blas_threads.describe(), "blas_threads": blas_threads.get(),
        "decisions": [[reason, n, {str(k): round(1000 * v, 2) for k, v in med.items()}]
                      for reason, n, med in (tuner.history if tuner else [])]}))


def child_env(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(env_extra, PYTHONPATH=REPO)
    return env


def run_child(path, iters, env_extra):
    return run_child_json([os.path.abspath(__file__), "--child", path, "--iters", str(iters)],
                          child_env(env_extra))


def run_side_by_side(path, iters, envs, order):
    """The modes ``order`` (names of ``envs``) as concurrent processes, started in that
    order; each holds on after its timed iterations until all are done (``child``'s
    ``hold``). Returns {mode: result}."""
    with tempfile.TemporaryDirectory() as hold:
        procs = {}
        for mode in order:
            argv = [sys.executable, os.path.abspath(__file__), "--child", path, "--iters",
                    str(iters), "--hold", hold, "--hold-count", str(len(order))]
            procs[mode] = subprocess.Popen(argv, env=child_env(envs[mode]),
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)
        out = {}
        for mode, p in procs.items():
            stdout, stderr = p.communicate(timeout=1800)
            if p.returncode != 0:
                raise RuntimeError(stderr[-2000:])
            out[mode] = json.loads(stdout.strip().splitlines()[-1])
    return out


class Competitors:
    """``n`` CPU-bound processes for the duration of a ``with`` block."""

    def __init__(self, n):
        self.n, self.procs = n, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.n)]
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []


def modes(cpus):
    return {"default": {}, "1 thread": {"TSCAFFE_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
            f"pinned {cpus}": {"TSCAFFE_NUM_THREADS": str(cpus)}}


def main(quick=False, nets=None, rounds=None, iters=None, competitors=2, out_json=None,
         side_iters=None):
    sys.path.insert(0, HERE)
    sys.path.insert(0, REPO)
    import _common
    import bench_nets
    from caffe_compat.parallel import available_cpus

    cpus = available_cpus()
    rounds = rounds or (1 if quick else 3)
    nets = nets or list(ITERS)
    all_modes = modes(cpus)
    results, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in nets:
            path = bench_nets.write_net(name, tmp)
            n_iter = iters or (8 if quick else ITERS.get(name, 30))
            runs = {(c, m): [] for c in ("quiet", "busy") for m in all_modes}
            side = {m: [] for m in SIDE_BY_SIDE}
            names = list(all_modes)
            for rnd in range(rounds):
                for cond in ("quiet", "busy"):
                    with Competitors(competitors if cond == "busy" else 0):
                        # Each round starts with the next mode, so no mode always runs first
                        # after the competitors start (or stop).
                        for mode in names[rnd % len(names):] + names[:rnd % len(names)]:
                            env = all_modes[mode]
                            r = run_child(path, n_iter, env)
                            runs[(cond, mode)].append(r)
                            print(f"{name:14} {cond:5} {mode:9}: {r['ms']:7.1f} ms/iter (median "
                                  f"{r['median_ms']:.1f}), {r['faults_per_iter']:.0f} faults/iter "
                                  f"({r['steady_faults_per_iter']:.1f} in the second half), "
                                  f"threads {r['final_threads']}"
                                  + (f", decisions {r['decisions']}" if r["decisions"] else ""), flush=True)
                # Side by side: default and one thread at the same time, each the other's
                # competitor, with one competitor fewer: both see the same load at the same
                # moments (the order they start in alternates).
                order = list(SIDE_BY_SIDE) if rnd % 2 == 0 else list(SIDE_BY_SIDE)[::-1]
                with Competitors(max(competitors - 1, 0)):
                    pair = run_side_by_side(path, side_iters or SIDE_FACTOR * n_iter, all_modes,
                                            order)
                for mode, r in pair.items():
                    side[mode].append(r)
                print(f"{name:14} side by side ({' first, '.join(order)} second): "
                      + ", ".join(f"{m} {r['ms']:.1f} ms/iter (median {r['median_ms']:.1f}, "
                                  f"threads {r['final_threads']})" for m, r in pair.items()),
                      flush=True)
            side_rounds = [d["ms"] / o["ms"] for d, o in zip(side["default"], side["1 thread"])]
            side_ratio = statistics.median(side_rounds)
            med = {k: statistics.median(r["ms"] for r in v) for k, v in runs.items()}
            steady = {k: statistics.median(r["median_ms"] for r in v) for k, v in runs.items()}
            busy = med[("busy", "default")] / med[("busy", "1 thread")]
            quiet = med[("quiet", "default")] / med[("quiet", f"pinned {cpus}")]
            busy_steady = steady[("busy", "default")] / steady[("busy", "1 thread")]
            quiet_steady = steady[("quiet", "default")] / steady[("quiet", f"pinned {cpus}")]
            startup = {c: statistics.median((r["ms"] - r["median_ms"]) * n_iter / 1000 for r in runs[(c, "default")])
                       for c in ("quiet", "busy")}
            fair = med[("busy", "default")] / (med[("quiet", "1 thread")] * (competitors + 1) / cpus)
            # Per round: default / 1 thread under the same competitors (paired), and the CPU
            # time each spent per iteration (the work done, whatever share it was given).
            paired = [d["ms"] / o["ms"] for d, o in zip(runs[("busy", "default")], runs[("busy", "1 thread")])]
            cpu = {k: statistics.median(r["cpu_ms"] for r in v) for k, v in runs.items()}
            busy_cpu = cpu[("busy", "default")] / cpu[("busy", "1 thread")]
            res = {"net": name, "cpus": cpus, "competitors": competitors, "rounds": rounds,
                   "iters": n_iter, "ms": {f"{c}/{m}": v for (c, m), v in med.items()},
                   "busy_ratio": busy, "quiet_ratio": quiet, "fair_share_ratio": fair,
                   "busy_ratio_per_round": paired, "cpu_ms": {f"{c}/{m}": v for (c, m), v in cpu.items()},
                   "busy_cpu_ratio": busy_cpu,
                   "steady_ms": {f"{c}/{m}": v for (c, m), v in steady.items()},
                   "busy_ratio_steady": busy_steady, "quiet_ratio_steady": quiet_steady,
                   "startup_seconds": startup,
                   "side_by_side_ratio": side_ratio, "side_by_side_per_round": side_rounds,
                   "side_by_side_ms": {m: statistics.median(r["ms"] for r in v)
                                       for m, v in side.items()},
                   "side_by_side_cpu_ms": {m: statistics.median(r["cpu_ms"] for r in v)
                                           for m, v in side.items()},
                   "side_by_side_runs": side,
                   "faults_per_iter": statistics.median(r["faults_per_iter"] for v in runs.values() for r in v),
                   "steady_faults_per_iter": {f"{c}/{m}": statistics.median(r["steady_faults_per_iter"] for r in v)
                                              for (c, m), v in runs.items()},
                   "blas": runs[("quiet", "default")][0]["blas"], "runs": {f"{c}/{m}": v for (c, m), v in runs.items()}}
            results.append(res)
            print(f"{name}: busy default / busy 1 thread = {busy:.2f} (target <= {TARGET_BUSY}); "
                  f"quiet default / quiet pinned {cpus} = {quiet:.2f} (target <= {TARGET_QUIET}); "
                  f"busy default / fair share = {fair:.2f}; per round (paired) busy "
                  f"{', '.join(f'{p:.2f}' for p in paired)}; CPU time per iteration busy default / "
                  f"1 thread {busy_cpu:.2f}; steady (medians): busy {busy_steady:.2f}, "
                  f"quiet {quiet_steady:.2f}; the default's start-up cost quiet "
                  f"{startup['quiet']:.2f} s, busy {startup['busy']:.2f} s; side by side "
                  f"default / 1 thread {side_ratio:.2f} (median of the rounds: "
                  f"{', '.join(f'{p:.2f}' for p in side_rounds)})", flush=True)
            rows.append(_common.row(f"{name} busy ({competitors} competitors): default vs 1 thread",
                                    med[("busy", "default")], med[("busy", "1 thread")], "ms", target=TARGET_BUSY))
            rows.append(_common.row(f"{name} side by side ({competitors} competitors each): "
                                    f"default vs 1 thread", res["side_by_side_ms"]["default"],
                                    res["side_by_side_ms"]["1 thread"], "ms", target=TARGET_BUSY,
                                    ratio=side_ratio))
            rows.append(_common.row(f"{name} quiet: default vs pinned {cpus}", med[("quiet", "default")],
                                    med[("quiet", f"pinned {cpus}")], "ms", target=TARGET_QUIET))
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "results": results}, f, indent=2)
    print()
    print(markdown_table(results))
    return rows


def markdown_table(results):
    lines = ["| net | quiet: default / 1 thr / pinned N ms | busy: default / 1 thr / pinned N ms | "
             "busy default / 1 thr | quiet default / pinned N | busy default / fair share | "
             "steady (medians): busy / quiet ratio | default's start-up s (quiet / busy) | "
             "page faults per iteration, second half (most of any mode) | "
             "side by side: default / 1 thr ms, median ratio of the rounds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ms = r["ms"]
        cells = []
        for cond in ("quiet", "busy"):
            cells.append(" / ".join(f"{v:.1f}" for k, v in ms.items() if k.startswith(cond + "/")))
        lines.append(f"| {r['net']} | {cells[0]} | {cells[1]} | {r['busy_ratio']:.2f} | "
                     f"{r['quiet_ratio']:.2f} | {r['fair_share_ratio']:.2f} | "
                     f"{r['busy_ratio_steady']:.2f} / {r['quiet_ratio_steady']:.2f} | "
                     f"{r['startup_seconds']['quiet']:.1f} / {r['startup_seconds']['busy']:.1f} | "
                     f"{max(r['steady_faults_per_iter'].values()):.1f} | "
                     f"{r['side_by_side_ms']['default']:.1f} / "
                     f"{r['side_by_side_ms']['1 thread']:.1f}, {r['side_by_side_ratio']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--nets", nargs="*", choices=sorted(ITERS))
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--iters", type=int)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--competitors", type=int, default=2)
    ap.add_argument("--side-iters", type=int,
                    help=f"timed iterations of the side-by-side runs (default {SIDE_FACTOR} x "
                         f"--iters)")
    ap.add_argument("--hold", help=argparse.SUPPRESS)
    ap.add_argument("--hold-count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if a.child:
        child(a.child, a.iters, a.warmup, a.hold, a.hold_count)
    else:
        main(a.quick, a.nets, a.rounds, a.iters, a.competitors, a.json, a.side_iters)
