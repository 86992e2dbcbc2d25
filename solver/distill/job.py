"""The porting job as a pipeline: options -> open_dataset -> the held-out slice (with
patience) -> teacher (probe, choices) -> nets -> train -> save -> report. ``run(options)`` does it; ``distill(teachers, ...)`` takes
the options as keywords."""
import dataclasses
import os

from caffe_compat.data import open_dataset

from solver import log as glog

from .heldout import heldout_count, split_training
from .nets import test_batch, write_nets
from .options import DistillOptions, student_defaults
from .report import make_report, write_report
from .saving import save_student
from .teacher_step import choose_teacher
from .training import logging_to, train


def run(options):
    """Run the whole porting job of ``options`` (a DistillOptions); returns the report dict
    (also written to ``<out>/<name>_report.json``)."""
    opts = options.resolved()
    os.makedirs(opts.out, exist_ok=True)
    dataset = open_dataset(opts.data, opts.out, opts.subset)
    given = dataset
    split = None
    if opts.patience > 0:   # the stop reads a held-out slice of the training data
        split = split_training(dataset.train_lmdb, dataset.num_train, opts.out,
                               heldout_count(dataset.num_train, opts.heldout), opts.seed)
        dataset = dataclasses.replace(dataset, train_lmdb=split.fit_lmdb,
                                      num_train=split.num_fit)
    log_path = opts.path(".log")
    with logging_to(log_path, "w"):
        if split is not None:
            glog.info(glog.DISTILL_SETUP,
                      f"Held out {split.num_heldout:,} of {given.num_train:,} training "
                      f"images (seed {split.seed}, never trained on): the early stop reads "
                      f"their agreement; the test split ({given.num_test:,} images) is "
                      f"scored once, at the end")
        teacher = choose_teacher(opts, dataset)
    if opts.echo is not None:
        for line in teacher.choices:
            opts.echo(line)
    if dataset.num_classes is None:   # data without labels: the teacher says how many
        dataset = dataclasses.replace(dataset, num_classes=teacher.plan.profile.classes)
    student_opts = student_defaults(opts.student, dataset.sample_shape, opts.student_opts)
    ts_path, student_path, solver_path = write_nets(opts, dataset, teacher.plan.params,
                                                    teacher.temperature, student_opts, split)
    report_test = None
    if split is not None:
        report_test = (ts_path, dataset.num_test // test_batch(dataset.num_test),
                       f"the test split ({dataset.num_test:,} images)")
    trained = train(solver_path, log_path, mode="a", recover=opts.recover,
                    bn_passes=opts.bn_passes, patience=opts.patience, report_test=report_test,
                    lr_probe=opts.probe(), lr_decays=opts.lr_decays)
    caffemodel, onnx_path = opts.path("_student.caffemodel"), opts.path("_student.onnx")
    with logging_to(log_path):
        save_student(trained.solver, student_path, caffemodel, onnx_path)
    files = {"ts_prototxt": ts_path, "student_prototxt": student_path, "solver": solver_path,
             "log": log_path, "caffemodel": caffemodel, "onnx": onnx_path}
    report = make_report(opts, dataset, teacher, student_opts, trained, files)
    report["data"] = given.description      # the data as given (train_samples: fit)
    report["heldout_samples"] = split.num_heldout if split else 0
    report["lr_probe"] = trained.lr_probe
    if trained.lr_probe:   # the probed rate (final_base_lr: after any rollback)
        report["base_lr"] = next((t["lr"] for t in trained.lr_probe if t["accepted"]),
                                 trained.lr_probe[-1]["lr"])
    write_report(opts, report)
    return report


def distill(teachers, student="lenet", data=None, out="distill_out", **options):
    """``run(DistillOptions(teachers, student, data, out, **options))``."""
    return run(DistillOptions(teachers, student, data, out, **options))
