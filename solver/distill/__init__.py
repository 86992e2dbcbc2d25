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
from caffe_compat.data import open_dataset

from .job import distill, run
from .nets import net_configs, render_files, solver_config, test_batch
from .options import (ALEXNET_DEFAULTS, DEFAULTS, STUDENTS, VGG_2017_RECIPE, VGG_DEFAULTS,
                      DistillOptions, student_defaults)
from .report import summary_line
from .saving import save_student
from .splice import splice_student
from .teacher_step import choose_teacher, teacher_config
from .training import TrainResult, logging_to, recalibrate_batchnorm, train

prepare_data = open_dataset   # the dataset the job trains on (caffe_compat.data)

__all__ = ["distill", "run", "DistillOptions", "open_dataset", "prepare_data", "net_configs",
           "render_files", "solver_config", "test_batch", "DEFAULTS", "STUDENTS",
           "VGG_DEFAULTS", "VGG_2017_RECIPE", "ALEXNET_DEFAULTS", "student_defaults",
           "summary_line", "save_student", "splice_student", "choose_teacher",
           "teacher_config", "TrainResult", "logging_to", "recalibrate_batchnorm", "train"]
