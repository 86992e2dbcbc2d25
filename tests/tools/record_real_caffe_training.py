"""Train the 2017 teacher-student nets for a few iterations in real Caffe 1.0 and record what
it logs and snapshots (see tests/real_caffe_training.py for how each run is made).

    python tests/tools/record_real_caffe_training.py [--out tests/data/real_caffe_training.json]

Needs ``caffe`` on PATH (Debian 11's package: see bench/bench_lenet.py) and ../shared. For
each case it records the solver's log lines (source file:line and message, no timestamps)
and the caffe tool's own lines of `caffe train`, of `caffe test` on the initial weights and
of `caffe time`, and, of the final snapshot, every parameter blob's shape, sum, sum of
squares and first 32 values.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _record import write_json  # noqa: E402
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
for path in (REPO, TESTS):
    if path not in sys.path:
        sys.path.insert(0, path)

def snapshot_summary(path):
    import numpy as np

    from caffe_compat.io import load_caffemodel_arrays

    out = {}
    for layer, blobs in load_caffemodel_arrays(path).items():
        for k, arr in enumerate(blobs):
            a = np.asarray(arr, np.float64)
            out[f"{layer}/{k}"] = {"shape": list(arr.shape), "sum": float(a.sum()),
                                   "sumsq": float((a * a).sum()),
                                   "head": [float(x) for x in np.asarray(arr).ravel()[:32]]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(TESTS, "data", "real_caffe_training.json"))
    args = ap.parse_args()
    if not shutil.which("caffe"):
        sys.exit("caffe is not on PATH: install real Caffe 1.0 (see bench/bench_lenet.py)")
    from real_caffe_training import CASES, SOLVER_LINE, TOOL_LINE, log_lines, prepare

    record = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            folder = prepare(case, os.path.join(tmp, case))
            env = dict(os.environ, GLOG_logtostderr="1", GLOG_minloglevel="0", OPENBLAS_NUM_THREADS="1")
            proc = subprocess.run(["caffe", "train", "-solver", "solver.prototxt", "-weights",
                                   "init.caffemodel"], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=1800)
            log = proc.stdout + proc.stderr
            if proc.returncode != 0:
                sys.exit(f"{case}: caffe train failed:\n{log[-3000:]}")
            iters = CASES[case][-1]
            record[case] = {"solver_lines": log_lines(log, SOLVER_LINE),
                            "train_tool_lines": log_lines(log, TOOL_LINE),
                            "snapshot": snapshot_summary(os.path.join(folder, f"snap_iter_{iters}.caffemodel"))}
            # `caffe test` of the initial weights and `caffe time` of the net, 2 iterations each
            for command, extra in (("test", ["-weights", "init.caffemodel"]), ("time", [])):
                proc = subprocess.run(["caffe", command, "-model", "net.prototxt", "-iterations", "2"] + extra,
                                      cwd=folder, env=env, capture_output=True, text=True, timeout=600)
                if proc.returncode != 0:
                    sys.exit(f"{case}: caffe {command} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
                record[case][f"{command}_tool_lines"] = log_lines(proc.stdout + proc.stderr, TOOL_LINE)
            print(case, len(record[case]["solver_lines"]), "solver lines", file=sys.stderr)
    write_json(args.out, record)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
