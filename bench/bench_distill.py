"""The full porting benchmark of the teacher-student issue: the client's MNIST teacher
(../shared/teachers/advertorch_lenet5_clean.onnx, trained in another framework) teaches a
LeNet student on all 60,000 MNIST training images with no labels at all; the student is
scored on the 10,000 test images it never saw. Target: >= 99.5 % top-1 agreement.

    python bench/bench_distill.py [--iterations N] [--temperature T] [--lr LR] [-o DIR]
    python bench/bench_distill.py --sweep      # the experiment behind distill's defaults

Takes minutes (the default iterations of ``tscaffe distill``). Prints one row (a table with
--sweep: temperatures 1, 2, 4, 8 at lr 0.01 and lr 0.005 / 0.02 at T=4, 3,000 iterations
each, then T=4 and T=8 at 6,000).
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("TSCAFFE_SHARED", os.path.join(HERE, "..", "..", "shared"))


def main(quick=False, iterations=None, temperature=None, lr=None, out=None):
    sys.path.insert(0, os.path.dirname(HERE))
    from solver.distill import distill

    teacher = os.path.join(SHARED, "teachers", "advertorch_lenet5_clean.onnx")
    data = os.path.join(SHARED, "datasets", "mnist")
    if not (os.path.exists(teacher) and os.path.isdir(data)):
        print(f"bench_distill: needs {teacher} and {data}")
        return []
    out = out or tempfile.mkdtemp(prefix="bench_distill_")
    start = time.time()
    report = distill([teacher], "lenet", data, out, labels=False, loss="kd",
                     temperature=temperature, iterations=100 if quick else iterations,
                     base_lr=lr, subset=(6400, 1000) if quick else None, name="bench")
    wall = time.time() - start
    row = {"agreement": report["agreement"], "accuracy": report["accuracy"],
           "name": "distill LeNet from the client teacher, no labels"
                   + (" (quick)" if quick else f", {report['train_samples']} images"),
           "ours": f"agreement {report['agreement']:.4f}, accuracy {report['accuracy']:.4f}",
           "baseline": "target agreement >= 0.995", "ratio": "",
           "target": ">= 0.995",
           "verdict": "met" if report["agreement"] >= 0.995 else "not met",
           "detail": f"{report['iterations']} iterations, T={report['temperature']:g}, "
                     f"lr={report['base_lr']:g}, train {report['train_seconds']:.0f} s, "
                     f"wall {wall:.0f} s; output {out}"}
    print(f"{row['name']}: {row['ours']} ({row['verdict']}); {row['detail']}")
    return [row]


SWEEP = [(1, 0.01, 3000), (2, 0.01, 3000), (4, 0.01, 3000), (8, 0.01, 3000), (4, 0.005, 3000),
         (4, 0.02, 3000), (4, 0.01, 6000), (8, 0.01, 6000)]


def sweep(out="bench_distill_sweep"):
    """Run SWEEP; print a table and write ``out/sweep.json`` (readme_results.py --sweep)."""
    import json

    from caffe_compat.errors import CaffeError

    rows = []
    for t, lr, it in SWEEP:
        entry = {"temperature": t, "lr": lr, "iterations": it}
        try:
            [row] = main(iterations=it, temperature=t, lr=lr,
                         out=os.path.join(out, f"T{t:g}_lr{lr:g}_it{it}"))
            entry.update(agreement=row["agreement"], accuracy=row["accuracy"])
        except CaffeError as e:  # a diverging setting stops with a clear error
            entry["error"] = str(e)
        rows.append(entry)
    print("T     lr      iterations  agreement")
    for r in rows:
        print(f"{r['temperature']:<5g} {r['lr']:<7g} {r['iterations']:<11d} "
              f"{r.get('agreement', r.get('error'))}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "sweep.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "rows": rows}, f, indent=2)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-o", "--output")
    ap.add_argument("--sweep", action="store_true", help="run the defaults' experiment")
    a = ap.parse_args()
    if a.sweep:
        sweep(a.output or "bench_distill_sweep")
    else:
        main(a.quick, a.iterations, a.temperature, a.lr, a.output)
