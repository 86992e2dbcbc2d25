"""Run every benchmark and print one table: name, ours, baseline, ratio, target, verdict.

    python bench/run_all.py [--quick] [--full] [--only NAME ...]

Each benchmark runs in its own process (``run_all.py --child MODULE``), so that one's
imports (torch, onnxruntime's threads, numpy's allocator state) never colour another's
numbers, with OPENBLAS_NUM_THREADS=1 where the issues ask for one thread (the LeNet, TS and
data benchmarks). A benchmark module has ``main(quick=False)`` returning rows (see
bench/_common.py). ``--quick`` makes every benchmark tiny (a smoke test: timings are then
meaningless); ``--full`` adds the long ones: bench_nets.py (every net against real Caffe, 1 and 2
threads), bench_distill.py (every kind of teacher on all 60,000 training images) and
bench_vgg.py (the VGG-16 student) and bench_contention.py (the thread count under load),
an hour or more in all.

The machine these run on is shared and noisy: compare ratios measured in one run, never
absolute times across runs.
"""
import argparse
import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import _common  # noqa: E402

MARKER = "@@ROWS@@ "
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# (module, what it measures, extra environment, runs only with --full)
BENCHMARKS = [
    ("bench_lenet", "LeNet iteration vs Caffe 1.0 and PyTorch", ONE_THREAD, False),
    ("bench_ts", "teacher-student iteration vs student-only; Net memory", ONE_THREAD, False),
    ("bench_data", "Data layer (LMDB) vs in-memory", ONE_THREAD, False),
    ("bench_label", "teacher labelling vs raw onnxruntime", {}, False),
    ("bench_nets", "every net's fwd+bwd vs real Caffe 1.0, 1 and 2 threads (issue 13)", {}, True),
    ("bench_distill", "every teacher (scales, softmax, clients' contracts, Fashion-MNIST), no labels (issues 11, 23)", {}, True),
    ("bench_vgg", "the VGG-16 student's agreement (issue 12)", {}, True),
    ("bench_contention", "default threads vs one thread, quiet and with 2 competitors (issue 22)", {}, True),
]


def child(module, quick):
    """Run one benchmark in this process and print its rows after MARKER."""
    if not os.path.exists(os.path.join(BENCH, module + ".py")):
        rows = [_common.row(module, None, None, "", verdict="not written yet")]
    else:
        mod = importlib.import_module(module)
        rows = mod.main(quick=quick)
        if not isinstance(rows, list):  # a benchmark that only prints
            rows = [_common.row(module, None, None, "", verdict="ran (see its output)")]
    sys.stdout.flush()
    print(MARKER + json.dumps(rows))
    return 0


def run_child(module, env_extra, quick, timeout):
    env = dict(os.environ, **env_extra)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", module] + (["--quick"] if quick else [])
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return out, [_common.row(module, None, None, "", verdict=f"TIMEOUT after {timeout} s")]
    lines = proc.stdout.splitlines()
    rows = [json.loads(line[len(MARKER):]) for line in lines if line.startswith(MARKER)]
    output = "\n".join(line for line in lines if not line.startswith(MARKER))
    if proc.returncode != 0 or not rows:
        err = [line for line in proc.stderr.splitlines() if line.strip()]
        reason = err[-1] if err else f"exit status {proc.returncode}"
        return output + "\n" + "\n".join(err[-15:]), [
            _common.row(module, None, None, "", verdict=f"ERROR: {reason[:120]}")]
    return output, rows[-1]


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{cpu}, {os.cpu_count()} CPUs, load average {load}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not timings")
    ap.add_argument("--full", action="store_true", help="also the full distillation benchmark")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="run only these benchmark modules (repeatable)")
    ap.add_argument("--quiet", action="store_true", help="print only the table")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.quick)
    selected = [b for b in BENCHMARKS if (args.full or not b[3])
                and (not args.only or b[0] in args.only)]
    timeout = 120 if args.quick else 3600
    started = time.time()
    rows = []
    for module, what, env, _ in selected:
        t0 = time.time()
        output, got = run_child(module, env, args.quick, timeout)
        if not args.quiet:
            print(f"== {module}: {what} ({time.time() - t0:.1f} s)")
            if output.strip():
                print(output.rstrip())
        rows += got
    print()
    print(f"tscaffe benchmarks{' (--quick: sizes too small for meaningful timings)' if args.quick else ''}"
          f" — {datetime.datetime.now():%Y-%m-%d %H:%M}, {machine()}; shared, noisy machine: "
          f"ratios are measured within one process, interleaved where stated; "
          f"total {time.time() - started:.0f} s")
    print(_common.format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
