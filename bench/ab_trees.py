"""A/B of two checkouts of tscaffe on bench_nets' nets, interleaved (the way to see a change
of a few percent on a noisy machine, where two identical processes differ by 15 %).

    python bench/ab_trees.py OLD_CHECKOUT NEW_CHECKOUT --nets cifar10_quick vgg16_student \\
        --threads 1 2 --rounds 5 --json bench/results/ab_SOMETHING.json

Each round runs bench_nets' own child process (``--child``: forward + backward of the net's
TRAIN prototxt, the median of ``--iters`` iterations after 3 warm-up ones) once from each
checkout, A first in even rounds and B first in odd ones, with the thread count pinned
(``OPENBLAS_NUM_THREADS``, which caps tscaffe's threads too). Prints and writes, per net and
thread count, both checkouts' round medians, the ratio B / A of their medians, and the
kernels B's convolutions and pools picked (``engines.describe``).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_nets  # noqa: E402


def run_child(tree, net_path, threads, iters):
    env = dict(os.environ, PYTHONPATH=tree, OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads))
    env.pop("TSCAFFE_ENGINE", None)
    env.pop("TSCAFFE_NUM_THREADS", None)
    p = subprocess.run([sys.executable, os.path.join(tree, "bench", "bench_nets.py"), "--child", net_path,
                        "--iters", str(iters), "--warmup", "3", "--threads", str(threads)],
                       capture_output=True, text=True, env=env, cwd=tree)
    if p.returncode:
        raise SystemExit(f"{tree}: bench_nets --child failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="checkout A (before)")
    ap.add_argument("b", help="checkout B (after)")
    ap.add_argument("--nets", nargs="+", choices=list(bench_nets.NETS), required=True)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    a, b = os.path.abspath(args.a), os.path.abspath(args.b)
    tmp = tempfile.mkdtemp(prefix="tscaffe_ab_")
    rows = []
    for net in args.nets:
        path = bench_nets.write_net(net, tmp)
        for t in args.threads:
            ms = {a: [], b: []}
            picks = None
            for r in range(args.rounds):
                for tree in ((a, b) if r % 2 == 0 else (b, a)):
                    out = run_child(tree, path, t, args.iters)
                    ms[tree].append(round(out["ms"], 2))
                    if tree == b:
                        picks = out.get("picks")
            ratio = statistics.median(ms[b]) / statistics.median(ms[a])
            rows.append({"net": net, "threads": t, "A": ms[a], "B": ms[b], "B/A": round(ratio, 3),
                         "B picks": picks})
            print(f"{net} threads {t}: A {statistics.median(ms[a]):.1f} ms {ms[a]}  "
                  f"B {statistics.median(ms[b]):.1f} ms {ms[b]}  B/A {ratio:.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "A": a, "B": b, "rounds": args.rounds,
                       "iters": args.iters, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
