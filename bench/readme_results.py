"""Fill README.md's results section from a ``tscaffe reproduce`` report.json.

    python bench/readme_results.py [runs/mnist/report.json] [--distill bench_report.json]
                                   [--sweep bench_distill_sweep/sweep.json]
                                   [--teachers DIR/bench_distill.json]

Everything between ``<!-- results:start -->`` and ``<!-- results:end -->`` (and between the
``sweep`` markers) is replaced by tables generated from the reports, with the date and the
machine they came from: no number in those sections is typed by hand. With a reproduce
report, the README's figure (``bench/results/reproduce_mnist_agreement.png``) is drawn again
from that run's logs by the code that draws the run's own ``agreement.png``
(solver/figures.py), at a smaller size, and the table is reproduce's own
(solver/report.py's ``results_table``).
"""
import argparse
import json
import os
import platform
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "README.md")
FIGURE = os.path.join(HERE, "results", "reproduce_mnist_agreement.png")
FIGURE_DPI = 72
FIGURE_COLORS = 96  # a palette PNG: the README's figure stays small (tens of KB)


def fmt(v):
    return "-" if v is None else f"{v:.4f}"


def agreement_png(report, out=FIGURE):
    """The run's agreement figure again, from its logs, as a small palette PNG."""
    sys.path.insert(0, os.path.join(HERE, ".."))
    from PIL import Image

    from solver.plot import plot_agreement
    from solver.plot_style import run_info

    students = report["students"]
    plot_agreement([s["files"]["log"] for s in students], out,
                   labels=[s["name"] for s in students],
                   infos=[run_info(s["name"], s) for s in students], dpi=FIGURE_DPI)
    with Image.open(out) as im:
        small = im.convert("RGB").quantize(colors=FIGURE_COLORS)
    small.save(out, optimize=True)
    return out


def tables(report, command="tscaffe reproduce mnist -o runs/mnist", figure=None):
    """The results section: where the numbers come from, the agreement figure, the table."""
    sys.path.insert(0, os.path.join(HERE, ".."))
    from solver.report import results_table

    stamp = time.strftime("%Y-%m-%d", time.localtime(os.path.getmtime(report["_path"])))
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    total = report.get("total_seconds")
    took = f", {total / 60:.1f} minutes in all" if total else ""
    lines = [f"From `{command}` on {stamp} ({machine}{took}); data: {report.get('data', '?')}.", ""]
    if figure:
        rel = os.path.relpath(figure, os.path.dirname(README))
        lines += [f"![top-1 agreement with the teacher during training and at the end, by λ]({rel})",
                  ""]
    lines.append(results_table(report["teacher"], report["students"]))
    return "\n".join(lines)


def distill_line(distill):
    held = distill.get("heldout_samples", 0)
    ran = distill.get("iterations_run", distill["iterations"])
    return ("The client's teacher (`advertorch_lenet5_clean.onnx`, trained in PyTorch) "
            f"teaching a LeNet student on {distill['train_samples']:,} MNIST training images "
            f"({held:,} more held out for the stop) with no labels (`tscaffe distill "
            f"--no-labels` as `bench/bench_distill.py` runs it: at most "
            f"{distill['iterations']:,} iterations, {ran:,} run, T={distill['temperature']:g}, "
            f"lr {distill['base_lr']:g} probed): top-1 agreement {fmt(distill['agreement'])} on "
            f"the 10,000 test images, accuracy {fmt(distill['accuracy'])}, "
            f"{distill['train_seconds']:.0f} s of training.")


def sweep_table(sweep):
    lines = [f"Measured {sweep['date']} (`python bench/bench_distill.py --sweep`):", "",
             "| T | lr | iterations | top-1 agreement | accuracy |", "|---|---|---|---|---|"]
    for r in sweep["rows"]:
        if "error" in r:
            result = f"diverges ({r['error'].split(';')[0]}) | -"
        else:
            result = f"{r['agreement']:.4f} | {r['accuracy']:.4f}"
        lines.append(f"| {r['temperature']:g} | {r['lr']:g} | {r['iterations']:,} | {result} |")
    return "\n".join(lines)


TARGETS = {"mnist": 0.995, "fashion": 0.98}


def seed_groups(rows):
    """bench_distill's rows grouped by (teacher, student), in first-seen order; each group
    is (the run of the median agreement, [(seed, agreement), ...] sorted by seed). With an
    even count the lower middle run stands for the group."""
    groups = {}
    for r in rows:
        groups.setdefault((r["teacher"], r.get("student", "lenet")), []).append(r)
    out = []
    for runs in groups.values():
        ok = [r for r in runs if "error" not in r]
        if not ok:
            out.append((runs[0], []))
            continue
        ranked = sorted(ok, key=lambda r: r["agreement"])
        middle = dict(ranked[(len(ranked) - 1) // 2])
        middle["rollbacks"] = max(r["rollbacks"] for r in ok)   # any seed's counts
        out.append((middle, sorted((r.get("seed", 1), r["agreement"]) for r in ok)))
    return out


def teachers_table(bench):
    """bench_distill.py's rows: every teacher (and student) from the defaults, no labels;
    a cap given with --iterations / --vgg-iterations is shown as such. A row run with
    several seeds shows the median run, and every seed's agreement."""
    lines = [f"Measured {bench['date']} ({bench.get('command', '`python bench/bench_distill.py`')}"
             f", {bench['machine']}; no labels, defaults only unless the cap column says "
             f"otherwise; a row run with several `--seeds` shows the run of the median "
             f"agreement):", "",
             "| teacher | student | what it is | cap | iterations run | scored weights of | lr "
             "(probed) | lr decays at | rollbacks | top-1 agreement | by seed | target | KL "
             "| accuracy | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r, seeds in seed_groups(bench["rows"]):
        name = r["teacher"].split("/")[0]
        student = r.get("student", "lenet")
        if "error" in r:
            lines.append(f"| {name} | {student} | {r.get('note', '')} | - | - | - | - | - | - | "
                         f"error: {r['error']} | - | - | - | - | - |")
            continue
        target = TARGETS["mnist" if name.startswith("mnist") else "fashion"]
        met = "met" if r["agreement"] >= target and not r["rollbacks"] else "**missed**"
        cap = (f"{r['cap_given']:,} (set)" if r.get("cap_given") else
               f"{r.get('iterations', 20000):,}")
        budget = r.get("budget") or {}
        ran = r.get("iterations_run") or r.get("iterations")
        scored = budget.get("restored_iteration") or ran
        decays = budget.get("lr_decays")
        decayed = ("-" if decays is None else ", ".join(f"{d['iteration']:,}" for d in decays)
                   or "none")
        by_seed = ", ".join(f"{seed}: {fmt(a)}" for seed, a in seeds)
        lines.append(f"| {name} | {student} | {r.get('note', '')} | {cap} | {ran:,} | "
                     f"{scored:,} | {r['base_lr']:g} | {decayed} | {r['rollbacks']} | "
                     f"{fmt(r['agreement'])} | {by_seed} | ≥ {target:g}: {met} | "
                     f"{fmt(r['kl'])} | {fmt(r['accuracy'])} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def vgg_table(bench):
    """bench_vgg.py's ablation (and final) rows."""
    sys.path.insert(0, HERE)
    import bench_vgg

    lines = [f"Measured {bench['date']} (`python bench/bench_vgg.py`, width {bench['width']:g}, "
             "the client teacher, no labels, full MNIST):", ""]
    rows = bench.get("ablation", []) + bench.get("final", [])
    return "\n".join(lines) + "\n" + bench_vgg.markdown(rows)


def nets_table(bench):
    """bench_nets.py's results."""
    sys.path.insert(0, HERE)
    import bench_nets

    return (f"Measured {bench['date']} (`python bench/bench_nets.py`):\n\n"
            + bench_nets.markdown_table(bench["results"]))


def zoo_nets_table(bench):
    """bench_nets.py's results for the published ImageNet nets (--nets resnet50 ...)."""
    sys.path.insert(0, HERE)
    import bench_nets

    return (f"Measured {bench['date']} (`python bench/bench_nets.py --nets "
            + " ".join(sorted({r['net'] for r in bench['results']}, key=list(bench_nets.NETS).index))
            + f" --rounds {bench['results'][0]['rounds']}`):\n\n"
            + bench_nets.markdown_table(bench["results"]))


def nets_summary(bench):
    """The paragraph under the nets table: worst ratios, images per second, the bound."""
    sys.path.insert(0, HERE)
    import bench_nets

    rs = [r for r in bench["results"] if r["caffe_ms"]]

    def vs_caffe(r):  # against real Caffe: ours on Caffe's engine, where the row has it
        return (r.get("ours_caffe_engine_ms") or r["ours_ms"]) / r["caffe_ms"]
    worst = max(rs, key=vs_caffe)
    bound = [r["ours_ms"] / r["bound_ms"] for r in bench["results"]]
    gemm = [r["gemm_ms"] / r["bound_ms"] for r in bench["results"] if r.get("gemm_ms")]
    torch = [r["ours_ms"] / r["torch_ms"] for r in bench["results"] if r["torch_ms"]]
    met = sum(r["ours_ms"] / r["bound_ms"] <= bench_nets.TARGET_BOUND for r in bench["results"])
    over = [r for r in rs if vs_caffe(r) > bench_nets.TARGET_CAFFE]
    lines = [f"Against real Caffe the worst ratio is {vs_caffe(worst):.2f} "
             f"({worst['net']}, {worst['threads']} thread{'s' if worst['threads'] > 1 else ''}): "
             + (f"every row is at most {bench_nets.TARGET_CAFFE:.1f}." if not over else
                f"{len(over)} of {len(rs)} rows are above {bench_nets.TARGET_CAFFE:.1f}.")]
    student = [r for r in bench["results"] if r["net"] == "vgg16_student" and r["threads"] == 2]
    if student and student[0]["caffe_ms"]:
        r = student[0]
        batch = bench_nets.NETS["vgg16_student"][3]
        per_s = lambda ms: f"{1000 * batch / ms:,.0f}"
        lines.append(f"In images per second of training (fwd+bwd, 2 threads) the VGG-16 student as "
                     f"distill trains it does {per_s(r['ours_ms'])} here, against real Caffe's "
                     f"{per_s(r['caffe_ms'])}" + (f" and PyTorch's {per_s(r['torch_ms'])}."
                                                  if r["torch_ms"] else "."))
    met_rows = ", ".join(f"{r['net']} {r['threads']}t" for r in bench["results"]
                         if r["ours_ms"] / r["bound_ms"] <= bench_nets.TARGET_BOUND)
    torch_met = sum(r["torch_ms"] / r["bound_ms"] <= bench_nets.TARGET_BOUND
                    for r in bench["results"] if r["torch_ms"])
    lines.append(f"The SGEMM bound is another matter: ours is {min(bound):.1f} to {max(bound):.1f} "
                 f"times it, within {bench_nets.TARGET_BOUND:g}x on {met} of {len(bound)} rows"
                 + (f" ({met_rows})" if met else "")
                 + (f"; PyTorch (oneDNN) is up to {max(torch):.1f} times faster than ours and within "
                    f"{bench_nets.TARGET_BOUND:g}x on {torch_met} of {len(torch)} rows" if torch else "")
                 + ".")
    if gemm:
        lines.append(f"The last column says why: each net's GEMMs alone, at the shapes an im2col "
                     f"convolution needs, take {min(gemm):.2f} to {max(gemm):.2f} times the bound in "
                     f"OpenBLAS (the bound's rate is a large square-ish product; few output channels "
                     f"or a short K run at half of it), so on every net but the wide ones what "
                     f"remains of a {bench_nets.TARGET_BOUND:g}x budget is less than im2col, pooling "
                     f"and the elementwise passes cost in numpy.")
    return " ".join(lines)


def label_table(bench):
    """bench_label.py --json's rows."""
    sys.path.insert(0, HERE)
    import bench_label

    return (f"Measured {bench['date']} (`python bench/bench_label.py`, medians of 3 runs each; "
            "the Dask rows start their LocalCluster before timing):\n\n"
            + bench_label.markdown(bench["rows"]))


def vgg_reproduce_line(report, what):
    """One line from a `tscaffe reproduce vgg16` report.json."""
    t = report["teacher"]
    parts = []
    for s in report["students"]:
        parts.append(f"`{s['name']}` agreement {fmt(s['agreement'])}, accuracy "
                     f"{fmt(s['accuracy'])}")
    teacher = (f"a {t['arch']} teacher trained here ({t['iterations']:,} iterations, test "
               f"accuracy {fmt(t['accuracy'])})" if t.get("iterations") else f"`{t['arch']}`")
    its = report["students"][0]["iterations"]
    return (f"{what}, from {teacher}, {its:,} iterations per student, no labels: "
            + "; ".join(parts) + ".")


def fill(text, section, body):
    return re.sub(rf"(<!-- {section}:start -->\n).*?(\n<!-- {section}:end -->)",
                  lambda m: m.group(1) + body + m.group(2), text, flags=re.S)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report", nargs="?", help="a reproduce report.json (results section)")
    ap.add_argument("--distill", help="a distill report.json to add")
    ap.add_argument("--sweep", help="a sweep.json of bench_distill.py --sweep")
    ap.add_argument("--teachers", help="bench_distill.py's bench_distill.json")
    ap.add_argument("--vgg", help="bench_vgg.py --ablation's bench_vgg.json")
    ap.add_argument("--vgg-final", help="bench_vgg.py --final's bench_vgg.json")
    ap.add_argument("--nets", help="bench_nets.py --json's file")
    ap.add_argument("--zoo-nets", help="bench_nets.py --json's file for the published nets")
    ap.add_argument("--vgg-fashion", help="`tscaffe reproduce vgg16` report.json on Fashion-MNIST")
    ap.add_argument("--vgg-mnist", help="`tscaffe reproduce vgg16 --teacher client` report.json")
    ap.add_argument("--label", help="bench_label.py --json's file")
    ap.add_argument("--readme", default=README)
    a = ap.parse_args()
    text = open(a.readme).read()
    if a.report:
        report = json.load(open(a.report))
        report["_path"] = a.report
        text = fill(text, "results", tables(report, figure=agreement_png(report)))
        print(f"wrote {FIGURE} ({os.path.getsize(FIGURE) // 1024} KB)")
    if a.distill:
        text = fill(text, "clientdistill", distill_line(json.load(open(a.distill))))
    if a.teachers:
        text = fill(text, "teachers", teachers_table(json.load(open(a.teachers))))
    if a.vgg:
        text = fill(text, "vgg", vgg_table(json.load(open(a.vgg))))
    if a.vgg_final:
        text = fill(text, "vggfinal", vgg_table(json.load(open(a.vgg_final))))
    if a.nets:
        nets = json.load(open(a.nets))
        text = fill(text, "nets", nets_table(nets))
        text = fill(text, "nets-summary", nets_summary(nets))
    if a.zoo_nets:
        text = fill(text, "zoo-nets", zoo_nets_table(json.load(open(a.zoo_nets))))
    if a.vgg_mnist:
        text = fill(text, "vggmnist", vgg_reproduce_line(
            json.load(open(a.vgg_mnist)), "`tscaffe reproduce vgg16 --teacher "
            "advertorch_lenet5_clean.onnx --data mnist --iterations 3000` on all of MNIST"))
    if a.vgg_fashion:
        text = fill(text, "vggfashion", vgg_reproduce_line(
            json.load(open(a.vgg_fashion)), "`tscaffe reproduce vgg16 --data fashion-mnist "
            "--iterations 2000 --teacher-iterations 2000` on all of Fashion-MNIST"))
    if a.label:
        text = fill(text, "label", label_table(json.load(open(a.label))))
    if a.sweep:
        text = fill(text, "sweep", sweep_table(json.load(open(a.sweep))))
    with open(a.readme, "w") as f:
        f.write(text)
    print(f"updated {a.readme}")


if __name__ == "__main__":
    main()
