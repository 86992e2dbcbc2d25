"""The control for bench_contention's side-by-side ratio: how far two identical processes
run side by side differ (A/A), next to the default against one thread (default/A).

    python bench/contention_aa.py [--pairs A-B default-A] [--rounds 3] [--iters 1500]

Each pair runs as bench_contention's side-by-side runs do (LeNet b64, one competitor of
ours, each process holding on until the other is done, the start order alternating by
round). ``A`` and ``B`` are both ``TSCAFFE_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``;
``default`` sets no thread variable. Prints each round's ratio (first name / second) with
both processes' ms and CPU ms per iteration, then each pair's median: a default/A median
inside the A/A rounds' spread is no evidence of a difference.
"""
import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import bench_contention as bc  # noqa: E402
import bench_nets  # noqa: E402

_MODES = bc.modes(1)   # bench_contention's environments of "default" and "1 thread"
MODES = {"A": _MODES["1 thread"], "B": _MODES["1 thread"], "default": _MODES["default"]}


def main(pairs, rounds, iters):

    res = {p: [] for p in pairs}
    with tempfile.TemporaryDirectory() as tmp:
        path = bench_nets.write_net("lenet", tmp)
        for rnd in range(rounds):
            for p in pairs:
                x, y = p.split("-")
                order = [x, y] if rnd % 2 == 0 else [y, x]
                with bc.Competitors(1):
                    out = bc.run_side_by_side(path, iters, MODES, order)
                r = out[x]["ms"] / out[y]["ms"]
                res[p].append(r)
                print(f"{p} (started {' then '.join(order)}): {x} {out[x]['ms']:.1f} ms "
                      f"(CPU {out[x]['cpu_ms']:.1f}), {y} {out[y]['ms']:.1f} ms "
                      f"(CPU {out[y]['cpu_ms']:.1f}), ratio {r:.2f}", flush=True)
    for p, v in res.items():
        print(f"{p}: median {statistics.median(v):.3f}, rounds {', '.join(f'{a:.2f}' for a in v)}")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="*", default=["A-B", "default-A"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=1500)
    a = ap.parse_args()
    for p in a.pairs:
        if len(p.split("-")) != 2 or not set(p.split("-")) <= set(MODES):
            ap.error(f"--pairs {p!r}: expected X-Y with X, Y in {', '.join(MODES)}")
    main(a.pairs, a.rounds, a.iters)
