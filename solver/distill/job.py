"""The porting job as a pipeline: options -> open_dataset -> the held-out slice (with
patience) -> teacher (probe, choices) -> nets -> train -> save -> report. ``run(options)`` does it; ``distill(teachers, ...)`` takes
the options as keywords."""
import dataclasses
import os

from caffe_compat.data import open_dataset

from solver import log as glog

from .fit_check import check_student_fits, check_user_student_fits
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
    student_opts = student_defaults(opts.student, dataset.sample_shape, opts.student_opts)
    # Before the teacher runs: the student takes the samples and gives the data's classes.
    if opts.student_prototxt:
        check_user_student_fits(opts.student_prototxt, dataset.sample_shape,
                                dataset.num_classes)
    else:
        check_student_fits(opts.student, dataset.sample_shape, student_opts,
                           dataset.num_classes)
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
    if opts.mix:
        with logging_to(log_path):
            mixed, records = prepare_mix(opts, dataset, teacher.plan.params)
        dataset = dataclasses.replace(dataset, train_lmdb=mixed, num_train=records)
        if split is not None:
            split = dataclasses.replace(split, fit_lmdb=mixed, num_fit=records)
    shifted = None
    if opts.shift:
        with logging_to(log_path):
            shifted = prepare_shifts(opts, dataset, teacher.plan.params)
    ts_path, student_path, solver_path = write_nets(opts, dataset, teacher.plan.params,
                                                    teacher.temperature, student_opts, split,
                                                    shifted)
    report_test = None
    if split is not None:
        report_test = (ts_path, dataset.num_test // test_batch(dataset.num_test),
                       f"the test split ({dataset.num_test:,} images)")
    trained = train(solver_path, log_path, mode="a", recover=opts.recover,
                    bn_passes=opts.bn_passes, patience=opts.patience, report_test=report_test,
                    lr_probe=opts.probe(), lr_decays=opts.lr_decays, average=opts.average)
    caffemodel, onnx_path = opts.path("_student.caffemodel"), opts.path("_student.onnx")
    with logging_to(log_path):
        save_student(trained.solver, student_path, caffemodel, onnx_path)
    files = {"ts_prototxt": ts_path, "student_prototxt": student_path, "solver": solver_path,
             "log": log_path, "caffemodel": caffemodel, "onnx": onnx_path}
    report = make_report(opts, dataset, teacher, student_opts, trained, files)
    report["data"] = given.description      # the data as given (train_samples: fit)
    report["heldout_samples"] = split.num_heldout if split else 0
    report["lr_probe"] = trained.lr_probe
    report["average"] = trained.average
    if trained.lr_probe:   # the probed rate (final_base_lr: after any rollback)
        report["base_lr"] = next((t["lr"] for t in trained.lr_probe if t["accepted"]),
                                 trained.lr_probe[-1]["lr"])
    write_report(opts, report)
    return report


def label_records(teacher_params, dataset, lmdb, shift=0):
    """Run the teacher once on every record of ``lmdb`` (each moved by up to ``shift``
    pixels) not in its logit cache yet, so that training only looks logits up
    (shift.fill_teacher_cache); returns (records seen, teacher runs)."""
    from solver.teacher import cached_teacher

    from .shift import fill_teacher_cache

    teacher = cached_teacher(teacher_params, dataset.sample_shape, announce=False)
    return fill_teacher_cache(teacher, lmdb, shift, dataset.transform)


def prepare_mix(opts, dataset, teacher_params):
    """The fit records with ``opts.mix`` teacher-labelled mixes of each (mix.py), the
    teacher's logits of every one computed now; returns (LMDB, records)."""
    import time

    from .mix import mixed_lmdb

    start = time.time()
    db, records = mixed_lmdb(dataset.train_lmdb, opts.out, opts.mix, opts.seed)
    seen, runs = label_records(teacher_params, dataset, db)
    glog.info(glog.DISTILL_SETUP,
              f"Mixes: the student trains on its {dataset.num_train:,} images and "
              f"{opts.mix} mix(es) of each with a random partner ({records:,} records, "
              f"round(lam a + (1 - lam) b), lam uniform); the teacher labelled {runs:,} of "
              f"the {seen:,} records now ({time.time() - start:.0f} s), the others were in "
              f"its logit cache")
    return db, records


def prepare_shifts(opts, dataset, teacher_params):
    """The padded fit records and the teacher's logits of every shifted copy (shift.py);
    returns (padded LMDB, crop size) for the TRAIN data layer, or None where the images are
    not square (Caffe's crop_size is)."""
    import time

    from .shift import padded_lmdb

    _, h, w = dataset.sample_shape
    if h != w:
        glog.info(glog.DISTILL_SETUP, f"No shifted copies: the images are {h} x {w}, and "
                                      f"Caffe's crop_size crops squares")
        return None
    start = time.time()
    padded = padded_lmdb(dataset.train_lmdb, opts.out, opts.shift)
    seen, runs = label_records(teacher_params, dataset, dataset.train_lmdb, opts.shift)
    glog.info(glog.DISTILL_SETUP,
              f"Shifted copies: the student trains on its {dataset.num_train:,} images moved "
              f"by up to {opts.shift} pixel(s) ({(2 * opts.shift + 1) ** 2} positions, a random "
              f"crop of {h} x {w} from the records padded by {opts.shift}); the teacher labelled "
              f"{runs:,} of the {seen:,} copies now ({time.time() - start:.0f} s), the others "
              f"were in its logit cache")
    return padded, h


def distill(teachers, student="lenet", data=None, out="distill_out", **options):
    """``run(DistillOptions(teachers, student, data, out, **options))``."""
    return run(DistillOptions(teachers, student, data, out, **options))
