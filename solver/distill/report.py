"""The job's report: ``<name>_report.json`` (what was run, what was chosen, the measures)
and ``summary_line``, the command's last line."""
import json
import os


def make_report(opts, dataset, teacher, student_opts, trained, files):
    """The report dict of a finished run (``teacher``: the TeacherChoice; ``trained``:
    the TrainResult; ``files``: the run's files by role)."""
    scores, solver = trained.scores, trained.solver
    return {
        "teachers": [os.path.abspath(t) for t in opts.teachers],
        "student": opts.student_prototxt or opts.student, "student_options": student_opts,
        "data": dataset.description,
        "labels_used": bool(opts.labels) and opts.soft_weight < 1.0, "loss": opts.loss,
        "temperature": teacher.temperature if opts.loss == "kd" else None,
        "soft_weight": opts.soft_weight if opts.labels else 1.0,
        "iterations": opts.iterations, "iterations_run": int(solver.iter),
        "budget": trained.budget, "warmup": opts.warmup, "base_lr": opts.base_lr,
        "logit_scale": teacher.logit_scale, "teacher_profile": teacher.plan.profile.as_dict(),
        "choices": teacher.choices,
        "rollbacks": [{"iteration": it, "reason": why, "lr_from": a, "lr_to": b}
                      for it, why, a, b in trained.rollbacks],
        "final_base_lr": solver.param.base_lr,
        "batch_size": opts.batch_size, "train_samples": dataset.num_train,
        "shift": opts.shift, "mix": opts.mix,
        "test_samples": dataset.num_test, "num_classes": dataset.num_classes,
        "train_seconds": round(trained.seconds, 1),
        "agreement": scores.get("agreement_top1"), "agreement_top5": scores.get("agreement_top5"),
        "kl": scores.get("kl"), "accuracy": scores.get("accuracy"),
        "files": files,
    }


def write_report(opts, report):
    with open(opts.path("_report.json"), "w") as f:
        json.dump(report, f, indent=2)


def summary_line(report):
    """The machine-readable last line: ``agreement=0.9931 accuracy=0.9902 ...``."""
    parts = []
    for key in ("agreement", "agreement_top5", "kl", "accuracy"):
        if report.get(key) is not None:
            parts.append(f"{key}={report[key]:.4f}")
    parts.append(f"seconds={report['train_seconds']}")
    return " ".join(parts)
