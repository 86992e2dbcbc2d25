"""Port any client teacher: `tscaffe distill --no-labels` with its defaults, teacher by teacher.

    python bench/bench_distill.py [-o DIR] [--only NAME ...] [--seeds 1 2 3] [--quick]
    python bench/bench_distill.py --sweep      # the older fixed-T experiment (lr, iterations)

Teachers (built under DIR/teachers by editing the shared client teacher's graph, see
tests/teacher_variants.py, or trained here):

- ``mnist_x0.1`` ... ``mnist_x30``: ../shared/teachers/advertorch_lenet5_clean.onnx with its
  logits multiplied by 0.1, 1, 10 and 30 (an ONNX Mul after the graph);
- ``mnist_softmax``: the same teacher giving probabilities (a Softmax after the graph);
- ``fashion_lenet``: a LeNet (with dropout) trained here on the 60,000 Fashion-MNIST
  training images with labels (3,000 iterations), exported to ONNX. It takes the student's
  scaled blob, i.e. pixels in [0, 1) (teacher params ``scale 1/256``).

The clients' contracts of issue 23, each ported with --teacher-params alone (no wrapper):

- ``mnist_mlp_flat``: a Hinton-style MLP's contract, input [N, 784] in [0, 1] and softmax
  output (the client behind a Mul and a Reshape); ``{"scale": 1/255}``, flat detected;
- ``mnist_lenet5_pad``: LeNet-5's [N, 32, 32, 1] NHWC input, MNIST padded by 2 (the client
  behind a Transpose and a centre Slice); ``{"pad": 2}``, NHWC detected;
- ``fashion_normalised``: the Fashion-MNIST teacher wanting (x/255 - 0.2860)/0.3530
  (torchvision Normalize outside the graph); ``{"mean": 72.93, "std": 90.015}``;
- ``fashion_x30``: the Fashion-MNIST teacher's logits x 30.
- ``fashion_bn_x30``: the issue's fourth client, a Fashion-MNIST CNN with BatchNorm trained
  here in PyTorch (in tscaffe when PyTorch is missing) and exported to ONNX in inference
  mode, its logits x 30 (bench/bn_teacher.py; its onnxruntime test accuracy is in the note).

Each teaches a student (LeNet; ``--student vgg16`` for the VGG-16 student at its default
width) on all 60,000 training images of its dataset with no labels, from the defaults only
(the budget: up to 20,000 iterations, or ``--iterations``; when the agreement on 5,000
held-out training images has not improved for 4 passes of 500, the best pass's weights come
back and the rate is divided by 10, twice, and the third such plateau stops the run, keeping
the best pass's weights; the rate probed at start-up; temperature and logit scale chosen from the
teacher's logits); the student is scored once on the 10,000 test images: top-1 agreement
with the teacher, KL, accuracy, seconds. Targets: >= 0.995 agreement on every MNIST teacher, >= 0.98 on every
Fashion-MNIST teacher, no rollbacks.
Results go to DIR/bench_distill.json (bench/readme_results.py --teachers puts them in the
README). Takes about 5 minutes per teacher on 2 cores.
"""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("TSCAFFE_SHARED", os.path.join(REPO, "..", "shared"))
SCALES = (0.1, 1, 10, 30)
TEACHER_FACTS = {}   # name -> what was measured of a teacher built here (bn_teacher.build)
TARGET = 0.995
TARGETS = {"mnist": 0.995, "fashion": 0.98}

for path in (REPO, os.path.join(REPO, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)


def shared_paths():
    return (os.path.join(SHARED, "teachers", "advertorch_lenet5_clean.onnx"),
            os.path.join(SHARED, "datasets", "mnist"),
            os.path.join(SHARED, "datasets", "fashion-mnist"))


def train_fashion_teacher(data, out, iterations=3000, subset=None):
    """A LeNet with dropout trained on Fashion-MNIST labels here; (onnx path, accuracy)."""
    from solver import distill as D
    from solver.reproduce import train_teacher

    os.makedirs(out, exist_ok=True)
    spec = D.prepare_data(data, out, subset)
    scores, _, onnx_path = train_teacher(spec, out, "lenet", iterations, 0.01,
                                         name="fashion_teacher",
                                         member_opts={"dropout": True})
    return onnx_path, scores.get("accuracy"), spec


def build_teachers(out, quick=False, only=None):
    """{name: (onnx, data folder, teacher_params, note)} for every teacher of the bench
    (the Fashion-MNIST teacher is trained only when ``only`` names a Fashion-MNIST row or
    is empty)."""
    import teacher_variants as tv

    client, mnist, fashion = shared_paths()
    folder = os.path.join(out, "teachers")
    os.makedirs(folder, exist_ok=True)
    teachers = {}
    for factor in SCALES:
        path = os.path.join(folder, f"client_x{factor:g}.onnx")
        tv.scaled(client, path, factor)
        teachers[f"mnist_x{factor:g}"] = (path, mnist, None, f"client logits x {factor:g}")
    path = os.path.join(folder, "client_softmax.onnx")
    tv.softmax_output(client, path)
    teachers["mnist_softmax"] = (path, mnist, None, "client, softmax output")
    path = tv.flat_mlp_input(client, os.path.join(folder, "client_mlp_flat.onnx"))
    teachers["mnist_mlp_flat"] = (path, mnist, {"scale": 1 / 255},
                                  "MLP contract: [N, 784] in [0, 1], softmax output")
    path = tv.padded_nhwc_input(client, os.path.join(folder, "client_lenet5_pad.onnx"))
    teachers["mnist_lenet5_pad"] = (path, mnist, {"pad": 2},
                                    "LeNet-5 contract: [N, 32, 32, 1] NHWC, MNIST padded by 2")
    if os.path.isdir(fashion) and (not only or "fashion_bn_x30" in only):
        import bn_teacher

        path, params, note, facts = bn_teacher.build(fashion, os.path.join(folder, "fashion_bn"),
                                                     quick)
        teachers["fashion_bn_x30"] = (path, fashion, params, note)
        TEACHER_FACTS["fashion_bn_x30"] = facts
    if os.path.isdir(fashion) and (not only or any(n.startswith("fashion") and
                                                   n != "fashion_bn_x30" for n in only)):
        onnx_path, acc, spec = train_fashion_teacher(
            fashion, os.path.join(folder, "fashion"), iterations=100 if quick else 3000,
            subset=(3200, 500) if quick else None)
        scale = spec.transform["scale"]
        teachers["fashion_lenet"] = (onnx_path, fashion, {"scale": scale},
                                     f"LeNet trained here on Fashion-MNIST labels, test "
                                     f"accuracy {acc:.4f}")
        mean, std = 0.2860, 0.3530
        path = tv.normalized_input(onnx_path, os.path.join(folder, "fashion_normalised.onnx"),
                                   mean, std, to_inner=255.0 * scale)
        teachers["fashion_normalised"] = (path, fashion, {"mean": 255 * mean, "std": 255 * std},
                                          "fashion_lenet wanting (x/255 - 0.2860)/0.3530")
        path = tv.scaled(onnx_path, os.path.join(folder, "fashion_x30.onnx"), 30.0)
        teachers["fashion_x30"] = (path, fashion, {"scale": scale}, "fashion_lenet logits x 30")
    return teachers


def run_one(name, onnx, data, params, out, quick=False, student="lenet", cap=None, seed=1):
    from caffe_compat.errors import CaffeError
    from solver.distill import distill

    start = time.time()
    label = name if student == "lenet" else f"{name}/{student}"
    folder = label.replace("/", "_") + ("" if seed == 1 else f"_seed{seed}")
    try:
        report = distill([onnx], student, data, os.path.join(out, folder),
                         labels=False, teacher_params=params,
                         iterations=100 if quick else cap,
                         subset=(6400, 1000) if quick else None, name="bench", seed=seed)
    except CaffeError as e:
        return {"teacher": label, "student": student, "error": str(e)}
    return row_of(label, student, seed, report, cap, time.time() - start)


def row_of(label, student, seed, report, cap, wall_seconds):
    """The JSON row of one run from its distill report (also ``OUT/bench_report.json``)."""
    return {"teacher": label, "student": student, "seed": seed, "agreement": report["agreement"],
            "kl": report["kl"], "iterations_run": report.get("iterations_run"),
            "budget": report.get("budget"), "warmup": report.get("warmup"),
            "accuracy": report["accuracy"], "train_seconds": report["train_seconds"],
            "wall_seconds": round(wall_seconds, 1), "temperature": report["temperature"],
            "logit_scale": report["logit_scale"], "iterations": report["iterations"],
            "base_lr": report["base_lr"], "rollbacks": len(report["rollbacks"]),
            "cap_given": cap, "lr_probe": report.get("lr_probe"),
            "heldout_samples": report.get("heldout_samples"),
            "train_samples": report["train_samples"], "test_samples": report["test_samples"],
            "profile": report["teacher_profile"], "choices": report["choices"]}


def main(quick=False, out=None, only=None, students=("lenet",), cap=None, vgg_cap=None,
         seeds=(1,)):
    client, mnist, _ = shared_paths()
    if not (os.path.exists(client) and os.path.isdir(mnist)):
        print(f"bench_distill: needs {client} and {mnist}")
        return []
    out = out or tempfile.mkdtemp(prefix="bench_distill_")
    teachers = build_teachers(out, quick, only)
    rows = []
    for student in students:
        for name, (onnx, data, params, note) in teachers.items():
            if only and name not in only:
                continue
            for seed in seeds:
                r = run_one(name, onnx, data, params, out, quick, student,
                            vgg_cap if student == "vgg16" and vgg_cap else cap, seed)
                r["note"] = note
                if name in TEACHER_FACTS:
                    r["teacher_facts"] = TEACHER_FACTS[name]
                rows.append(r)
                print(format_row(r), flush=True)
    result = {"date": time.strftime("%Y-%m-%d"), "quick": quick, "rows": rows,
              "machine": f"{os.cpu_count()} CPUs"}
    with open(os.path.join(out, "bench_distill.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"results: {os.path.join(out, 'bench_distill.json')}")
    return [table_row(r) for r in rows]


def format_row(r):
    if "error" in r:
        return f"{r['teacher']}: ERROR {r['error']}"
    return (f"{r['teacher']} (seed {r.get('seed', 1)}): agreement {r['agreement']:.4f}, KL {r['kl']:.4f}, accuracy "
            f"{r['accuracy']:.4f}, T={r['temperature']:g}, logit scale {r['logit_scale']:.4g}, "
            f"{r['rollbacks']} rollback(s), {r.get('iterations_run')} iterations, "
            f"train {r['train_seconds']:.0f} s")


def table_row(r):
    """A row of bench/run_all.py's table: agreement >= the dataset's target, no rollback."""
    target = TARGETS["mnist" if r["teacher"].startswith("mnist") else "fashion"]
    verdict = "ERROR" if "error" in r else (
        "PASS" if r["agreement"] >= target and not r["rollbacks"] else "FAIL")
    return {"name": f"distill from {r['teacher']}, no labels (agreement)",
            "ours": None if "error" in r else r["agreement"], "baseline": None, "unit": "",
            "ratio": None, "target": f">= {target}, no rollback", "verdict": verdict}


SWEEP = [(1, 0.01, 3000), (2, 0.01, 3000), (4, 0.01, 3000), (8, 0.01, 3000), (4, 0.005, 3000),
         (4, 0.02, 3000), (4, 0.01, 6000), (8, 0.01, 6000)]


def sweep(out="bench_distill_sweep"):
    """The fixed-temperature experiment on the raw client teacher (logit scale 1, no
    rollback): T and lr by hand. Writes ``out/sweep.json`` (readme_results.py --sweep)."""
    from caffe_compat.errors import CaffeError
    from solver.distill import distill

    client, mnist, _ = shared_paths()
    rows = []
    for t, lr, it in SWEEP:
        entry = {"temperature": t, "lr": lr, "iterations": it}
        try:
            rep = distill([client], "lenet", mnist, os.path.join(out, f"T{t:g}_lr{lr:g}_it{it}"),
                          labels=False, temperature=t, base_lr=lr, iterations=it,
                          logit_scale=1.0, recover=False, name="bench")
            entry.update(agreement=rep["agreement"], accuracy=rep["accuracy"])
        except CaffeError as e:  # a diverging setting stops with a clear error
            entry["error"] = str(e)
        rows.append(entry)
        print(entry, flush=True)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "sweep.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "rows": rows}, f, indent=2)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 iterations on 6,400 images")
    ap.add_argument("--only", nargs="*", help="teacher names to run")
    ap.add_argument("-o", "--output")
    ap.add_argument("--sweep", action="store_true", help="run the fixed-T experiment")
    ap.add_argument("--student", nargs="*", default=["lenet"], choices=["lenet", "vgg16"],
                    help="students to teach (default lenet; vgg16: the VGG-16 student)")
    ap.add_argument("--iterations", type=int, default=None,
                    help="the iteration cap (distill --iterations; default: distill's 20,000); "
                         "recorded in each row as cap_given")
    ap.add_argument("--vgg-iterations", type=int, default=None,
                    help="the VGG-16 student's cap (default: --iterations)")
    ap.add_argument("--seeds", nargs="*", type=int, default=[1],
                    help="distill --seed values to run each row with (default 1): the held-out "
                         "slice and the solver's random_seed; readme_results.py shows each "
                         "row's median and every seed's agreement")
    a = ap.parse_args()
    if a.sweep:
        sweep(a.output or "bench_distill_sweep")
    else:
        main(a.quick, a.output, a.only, tuple(a.student), a.iterations, a.vgg_iterations,
             tuple(a.seeds))
