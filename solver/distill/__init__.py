"""The porting job: teach a fixed student architecture to replicate ONNX teacher(s).

``distill(...)`` (or ``run(DistillOptions(...))``) does what ``tscaffe distill`` does, one
module per step:

==============  ============================================================================
options         DistillOptions, the defaults (DEFAULTS, the deep students' recipes)
(data)          caffe_compat.data.open_dataset: MNIST / Fashion-MNIST IDX files, CIFAR-10
                binaries, an LMDB pair or the embedded digits, as LMDBs with their facts
teacher_step    the teacher's param_str, the probe on training data, T and the logit scale
nets            the teacher-student net (ONNX teacher layer, loss ``kd`` = Hinton's
                KnowledgeDistillation or ``2017`` = Softmax -> SigmoidCrossEntropyLoss,
                Fidelity outputs in TEST), the student alone, the solver; splice: a user's
                student prototxt put in
training        the numpy solver, its Caffe-style log in ``<out>/<name>.log``, the
                divergence guard, BatchNorm re-estimation
saving          the student's caffemodel (student layers only) and its ONNX export
report          ``<name>_report.json``: accuracy when labels exist, top-1/top-5 agreement
                and KL with the teacher on the test split, which training never sees
job             the pipeline
==============  ============================================================================

The logit cache of the teacher is placed once per run (solver.teacher), so a second run on
the same data and teacher never runs the teacher on the training set again.
"""
_LAZY = {
    "distill": "job", "run": "job",
    "DistillOptions": "options", "DEFAULTS": "options", "STUDENTS": "options",
    "VGG_DEFAULTS": "options", "VGG_2017_RECIPE": "options", "ALEXNET_DEFAULTS": "options",
    "student_defaults": "options",
    "net_configs": "nets", "render_files": "nets", "solver_config": "nets",
    "test_batch": "nets", "write_nets": "nets",
    "summary_line": "report", "save_student": "saving", "splice_student": "splice",
    "choose_teacher": "teacher_step", "teacher_config": "teacher_step",
    "TrainResult": "training", "logging_to": "training",
    "recalibrate_batchnorm": "training", "train": "training",
}


def open_dataset(path, workdir, subset=None):
    """The dataset the job trains on (caffe_compat.data.open_dataset)."""
    from caffe_compat.data import open_dataset as _open

    return _open(path, workdir, subset)


prepare_data = open_dataset


def __getattr__(name):
    """The steps load on first use (the command line imports this package at start)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["open_dataset", "prepare_data"] + list(_LAZY)
