"""``report.md`` and ``report.json`` of a ``tscaffe reproduce`` job.

``report.md`` says each thing once:

1. the run (date, machine, data, total time) and the agreement figure;
2. one results table: the teacher as its first row, then every student with its loss, λ,
   whether it saw the labels, accuracy, top-1 / top-5 agreement, KL(teacher‖student), the
   first and last teacher-student loss of its training log and its training time;
3. the teacher as the students' setup measured it (``solver/teacher/profile.py``), once
   (once per distinct profile, naming its runs, should runs have seen different teachers);
4. what each loss chose from that profile (logit scale, temperature), once per loss;
5. why the 2017 loss barely falls and the KD loss falls to 0; the other plots.

:func:`results_table` is also the README's table (``bench/readme_results.py``).
"""
import json
import os
import platform
import time

LOSS_EXPLANATION = """\
The 2017 nets feed the student's and the teacher's softmax *probabilities* p_s, p_t into
SigmoidCrossEntropyLoss, which treats its first input as logits. Per class the loss is
ℓ(x, t) = log(1 + e^x) − x·t with x = p_s ∈ [0, 1] and target t = p_t, summed over the
classes and divided by the batch size (the layer's default normalization, BATCH_SIZE).
A fresh student gives x ≈ 1/10 for every class, so ℓ ≈ log(1 + e^0.1) − 0.1·t ≈ 0.744 −
0.1·t: about 0.73 per class, 7.3 for 10 outputs, as the 2017 CIFAR-10 logs print (7.34).
The minimum of ℓ over x would be at sigmoid(x) = t, i.e. x = logit(t) < 0 for every t < 1/2,
but x is a probability and cannot go below 0: the best a student can do is put x_c ≈ 0 on
the classes the teacher rules out (ℓ → log 2 ≈ 0.693) and x ≈ 1 on the teacher's class
(ℓ → log(1 + e) − 1 ≈ 0.313). The loss is therefore bounded below by about
9·0.693 + 0.313 ≈ 6.55 and starts at 7.3: it *barely falls*, and its gradient
(sigmoid(x) − t ≈ 0.5 − t, nearly the same for every class) is largely cancelled by the
softmax it flows back through. Hinton's KD instead measures
T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)), which is 0 exactly when the student's tempered
distribution equals the teacher's; its gradient T·(q − p_t)/N vanishes only there, so the
KD loss falls towards 0 as the student learns."""


def _fmt(v, digits=4):
    return "-" if v is None else f"{v:.{digits}f}"


def loss_name(student):
    if student["loss"] == "kd":
        t = student.get("temperature")
        return "KD" + ("" if t is None else f", T={t:g}")
    return "2017"


RESULTS_HEADER = ("| run | loss | λ | labels | accuracy | top-1 agreement | top-5 agreement | "
                  "KL(teacher‖student) | first → last ts loss | train s |")


def results_table(teacher, students):
    """The markdown table: the teacher's row, then one row per student."""
    given = not teacher.get("iterations")
    name = (f"teacher ({teacher['arch']}, given)" if given else
            f"teacher ({teacher['arch']}, {teacher['iterations']:,} iterations)")
    lines = [RESULTS_HEADER, "|" + "---|" * 10,
             f"| {name} | {'-' if given else 'labels'} | - | {'-' if given else 'yes'} | "
             f"{_fmt(teacher.get('accuracy'))} | - | - | - | - | "
             f"{'-' if given else format(teacher['seconds'], '.0f')} |"]
    for r in students:
        first, last = r.get("ts_loss_first"), r.get("ts_loss_last")
        trace = "-" if first is None else f"{first:.4g} → {last:.4g}"
        lines.append(
            f"| {r['name']} | {loss_name(r)} | {r['soft_weight']:g} | "
            f"{'yes' if r['labels_used'] else 'no'} | {_fmt(r['accuracy'])} | "
            f"{_fmt(r['agreement'])} | {_fmt(r.get('agreement_top5'))} | {_fmt(r['kl'])} | "
            f"{trace} | {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def _grouped(pairs):
    """[(key, [names])] in first-seen order, for (name, key) pairs."""
    groups = {}
    for name, key in pairs:
        groups.setdefault(key, []).append(name)
    return list(groups.items())


def profile_and_choices(students):
    """(profile lines, choice lines) of report.md, each said once."""
    profiles, choices = [], []
    for r in students:
        lines = r.get("choices") or []
        profiles.append((r["name"], tuple(c for c in lines if not c.startswith("Chose "))))
        choices.append((r["name"], (r["loss"], tuple(c for c in lines if c.startswith("Chose ")))))
    out_profile = []
    groups = [(k, names) for k, names in _grouped(profiles) if k]
    for key, names in groups:
        whose = "" if len(groups) == 1 else f" ({', '.join(names)})"
        out_profile += [f"- {line}{whose}" for line in key]
    out_choices = []
    by_loss = _grouped(choices)
    for (loss, lines), names in by_loss:
        if not lines:
            continue
        what = "Hinton KD" if loss == "kd" else "2017 loss"
        several = sum(1 for (other, _), _ in by_loss if other == loss) > 1
        whose = f" ({', '.join(names)})" if several else f" ({len(names)} run{'s' * (len(names) > 1)})"
        out_choices.append(f"- **{what}**{whose}:")
        out_choices += [f"  - {line}" for line in lines]
    return out_profile, out_choices


def write_report(out, title, data_desc, teacher, students, plots, total_seconds=None):
    """report.md (see the module's doc) and report.json (everything, machine-readable)."""
    took = "" if total_seconds is None else f"; {total_seconds:.0f} s in all ({total_seconds / 60:.1f} minutes)"
    lines = [f"# {title}", "",
             f"Run on {time.strftime('%Y-%m-%d %H:%M')} on {platform.node() or 'this machine'} "
             f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}); "
             f"data: {data_desc}{took}. The students are taught from the teacher's ONNX export.",
             ""]
    names = [os.path.basename(p) for p in plots]
    if "agreement.png" in names:
        lines += ["![top-1 agreement with the teacher](agreement.png)", ""]
    lines += ["## Results", "", results_table(teacher, students), ""]
    profile, choices = profile_and_choices(students)
    if profile:
        lines += ["## The teacher, as the students' setup measured it", ""] + profile + [""]
    if choices:
        lines += ["## What each loss chose from it (solver/teacher/profile.py)", ""] + choices + [""]
    lines += ["## Why the 2017 loss barely falls and the KD loss falls to 0", "",
              LOSS_EXPLANATION, ""]
    others = [n for n in names if n != "agreement.png"]
    if others:
        lines += ["## Plots", ""] + [f"![{n}]({n})" for n in others] + [""]
    text = "\n".join(lines)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump({"teacher": teacher, "students": students, "plots": plots,
                   "data": data_desc, "total_seconds": total_seconds}, f, indent=2)
    return text
