"""The 2017 failure, measured and fixed: a VGG-16-depth student taught by the client teacher.

    python bench/bench_vgg.py [--ablation] [--final] [--width 0.125] [--iterations N]
                              [--jobs 2] [-o DIR]

The student is the full VGG-16 (13 convolutions + 3 inner products, Caffe's layer names)
at a width multiplier (default 0.125: 8-16-32-64-64 channels, fc 512, so it trains on two
CPU cores) on 28x28 MNIST as it is (Caffe's ceil-mode pooling: 28-14-7-4-2-1). The teacher
is ../shared/teachers/advertorch_lenet5_clean.onnx; no labels are used; the student is
scored on the 10,000 MNIST test images (top-1 agreement with the teacher, accuracy).

``--ablation`` trains one recipe per row, from the 2017 one to the fix, each ingredient
changed alone (same iterations, same data, same seed); ``--final`` trains the default
recipe of ``tscaffe distill --student vgg16`` longer (the target: >= 0.99 agreement).
Results go to DIR/bench_vgg.json; ``--jobs 2`` runs two recipes at once (one thread each).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("TSCAFFE_SHARED", os.path.join(REPO, "..", "shared"))
TEACHER = os.path.join(SHARED, "teachers", "advertorch_lenet5_clean.onnx")
MNIST = os.path.join(SHARED, "datasets", "mnist")

sys.path.insert(0, REPO)
from solver.distill import VGG_2017_RECIPE as RECIPE_2017  # noqa: E402

ABLATION = [
    ("2017 recipe (xavier, 2017 loss, lr 0.003)", RECIPE_2017),
    ("2017 recipe, msra fillers", {**RECIPE_2017, "student_opts": {"filler": "msra", "bn": False}}),
    ("KD (derived T), xavier, lr 0.01 inv", {"student_opts": {"filler": "xavier", "bn": False}}),
    ("KD, msra", {"student_opts": {"filler": "msra", "bn": False}}),
    ("KD, msra, warm-up 500 it", {"student_opts": {"filler": "msra", "bn": False},
                                  "solver_opts": {"lr_policy": "warmup_inv", "stepsize": 500}}),
    ("KD, msra, BatchNorm+Scale", {"student_opts": {"filler": "msra", "bn": True}}),
    ("KD, xavier, BatchNorm+Scale", {"student_opts": {"filler": "xavier", "bn": True}}),
    ("2017 loss, msra, BatchNorm+Scale", {**RECIPE_2017, "student_opts": {"filler": "msra", "bn": True}}),
    ("KD, msra, BatchNorm+Scale, poly lr (linear decay to 0)",
     {"student_opts": {"filler": "msra", "bn": True},
      "solver_opts": {"lr_policy": "poly", "power": 1.0}}),
]


def run_recipe(name, recipe, width, iterations, out, subset=None):
    """One training run in this process; returns the result row."""
    sys.path.insert(0, REPO)
    from caffe_compat.errors import CaffeError
    from solver.distill import distill

    recipe = json.loads(json.dumps(recipe))
    opts = dict({"width": width, "dropout": False}, **recipe.pop("student_opts", {}))
    start = time.time()
    try:
        rep = distill([TEACHER], "vgg16", MNIST, out, labels=False, iterations=iterations,
                      student_opts=opts, subset=subset, name="vgg", **recipe)
    except CaffeError as e:
        return {"recipe": name, "error": str(e)}
    curve = agreement_curve(rep["files"]["log"])
    return {"recipe": name, "agreement": rep["agreement"], "accuracy": rep["accuracy"],
            "kl": rep["kl"], "iterations": iterations, "width": width,
            "train_seconds": rep["train_seconds"], "wall_seconds": round(time.time() - start, 1),
            "rollbacks": len(rep["rollbacks"]), "temperature": rep["temperature"],
            "curve": curve, "log": rep["files"]["log"]}


def agreement_curve(log_path):
    """[(iteration, top-1 agreement)] of the log's test passes."""
    sys.path.insert(0, REPO)
    from solver.parse_log import parse_log

    _, test_rows = parse_log(log_path)
    return [(int(r["NumIters"]), r["agreement_top1"]) for r in test_rows if "agreement_top1" in r]


def child_main(args):
    recipes = dict(ABLATION)
    recipe = recipes[args.recipe] if args.recipe in recipes else json.loads(args.recipe_json)
    row = run_recipe(args.recipe, recipe, args.width, args.iterations, args.child_out,
                     tuple(args.subset) if args.subset else None)
    print("RESULT " + json.dumps(row), flush=True)


def run_all(recipes, width, iterations, out, jobs, subset=None):
    """Each recipe in its own process (one OpenBLAS thread each when jobs > 1)."""
    pending = list(recipes)
    running, rows = [], []
    env = dict(os.environ, PYTHONPATH=REPO)
    if jobs > 1:
        env["OPENBLAS_NUM_THREADS"] = "1"
    while pending or running:
        while pending and len(running) < jobs:
            name, recipe = pending.pop(0)
            folder = os.path.join(out, slug(name))
            cmd = [sys.executable, os.path.abspath(__file__), "--child-out", folder,
                   "--recipe", name, "--recipe-json", json.dumps(recipe), "--width", str(width),
                   "--iterations", str(iterations)]
            if subset:
                cmd += ["--subset", str(subset[0]), str(subset[1])]
            os.makedirs(folder, exist_ok=True)
            log = open(folder + ".out", "w")
            running.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                                   text=True, env=env), log))
        time.sleep(2)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is None:
                continue
            running.remove(item)
            log.close()
            out_text = proc.stdout.read()
            lines = [l for l in out_text.splitlines() if l.startswith("RESULT ")]
            row = json.loads(lines[-1][7:]) if lines else {"recipe": name, "error": "crashed"}
            rows.append(row)
            print(format_row(row), flush=True)
    order = [n for n, _ in recipes]
    return sorted(rows, key=lambda r: order.index(r["recipe"]))


def slug(name):
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")[:60]


def format_row(r):
    if "error" in r:
        return f"{r['recipe']}: ERROR {r['error']}"
    return (f"{r['recipe']}: agreement {r['agreement']:.4f}, accuracy {r['accuracy']:.4f}, "
            f"{r['iterations']} iterations, {r['rollbacks']} rollback(s), "
            f"train {r['train_seconds']:.0f} s")


def markdown(rows):
    lines = ["| recipe | iterations | top-1 agreement | accuracy | rollbacks | agreement at the "
             "test passes | train s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['recipe']} | - | error: {r['error'][:80]} | - | - | - | - |")
            continue
        curve = ", ".join(f"{a:.3f}" for _, a in r["curve"])
        lines.append(f"| {r['recipe']} | {r['iterations']:,} | {r['agreement']:.4f} | "
                     f"{r['accuracy']:.4f} | {r['rollbacks']} | {curve} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def main(quick=False, out=None):
    """bench/run_all.py's entry: the default recipe, tiny (quick) or final."""
    sys.path.insert(0, HERE)
    import _common

    if not (os.path.exists(TEACHER) and os.path.isdir(MNIST)):
        return [_common.row("VGG-16 student agreement", None, None, "", verdict=f"no {TEACHER}")]
    out = out or os.path.join("/tmp", f"bench_vgg_{os.getpid()}")
    from solver.distill import VGG_DEFAULTS

    row = run_recipe("default", {"student_opts": dict(VGG_DEFAULTS["student_opts"]),
                                 "solver_opts": dict(VGG_DEFAULTS["solver_opts"])},
                     VGG_DEFAULTS["student_opts"]["width"], 20 if quick else 4000,
                     out, (640, 100) if quick else None)
    return [_common.row("VGG-16 student (no labels) agreement", row.get("agreement"), None, "",
                        target=">= 0.99", verdict="info" if quick else (
                            "PASS" if row.get("agreement", 0) >= 0.99 else "FAIL"))]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--final", action="store_true")
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--subset", type=int, nargs=2)
    ap.add_argument("-o", "--output", default="bench_vgg_out")
    ap.add_argument("--only", nargs="*", help="ablation rows whose name contains one of these")
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    ap.add_argument("--recipe", help=argparse.SUPPRESS)
    ap.add_argument("--recipe-json", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_out:
        child_main(a)
        sys.exit(0)
    os.makedirs(a.output, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d"), "width": a.width}
    if a.ablation:
        recipes = [(n, r) for n, r in ABLATION if not a.only or any(o in n for o in a.only)]
        rows = run_all(recipes, a.width, a.iterations, a.output, a.jobs,
                       tuple(a.subset) if a.subset else None)
        result["ablation"] = rows
        print(markdown(rows))
    if a.final:
        sys.path.insert(0, REPO)
        from solver.distill import VGG_DEFAULTS

        recipe = {"student_opts": dict(VGG_DEFAULTS["student_opts"]),
                  "solver_opts": dict(VGG_DEFAULTS["solver_opts"])}
        rows = run_all([("default (tscaffe distill --student vgg16)", recipe)], a.width,
                       a.iterations, a.output, 1)
        result["final"] = rows
        print(markdown(rows))
    with open(os.path.join(a.output, "bench_vgg.json"), "w") as f:
        json.dump(result, f, indent=2)
