"""The distill job's options (``DistillOptions``) and the defaults behind them.

The lr found by experiment (README "Choosing the distillation defaults"): the shared client
teacher teaching a LeNet student on all 60,000 MNIST training images without labels
(bench/bench_distill.py --sweep): T=4..8 best, lr 0.02 diverges; the one rollback the
bench saw (Fashion-MNIST, loss exploding at iteration 25 of lr 0.01) came before any
warm-up, so the rate now rises linearly over the first iterations (``warmup_inv``: a
tenth of the cap, at most 500), then follows Caffe's inv policy. The budget is not a
fixed number: the run tests a held-out slice of the training images (solver.distill.heldout,
never trained on) every ``test_interval`` iterations, stops when that agreement has not
improved for ``patience`` passes (solver.distill.budget), up to the cap ``iterations``,
and keeps the best pass's weights; the test split is scored once, at the end. A plateau is
first met by a smaller rate (``lr_decays``, solver.distill.budget): the best pass's weights
come back and base_lr is divided by 10, twice, before a plateau stops the run - measured on
the Fashion-MNIST BatchNorm client teacher (README, issue 23), whose LeNet student's
held-out agreement stalled at the first plateau of the near-constant inv rate. The temperature and
the logit scale are not fixed numbers: solver.teacher.profile derives them from each
teacher's logits, in units that reproduce the sweep's best point (T=8 at spread 7).
"""
import os
from dataclasses import dataclass, fields

from caffe_compat.errors import CaffeError

DEFAULTS = {
    "iterations": 20000,      # the cap: the run stops earlier on a held-out plateau
    "patience": 4,            # test passes without a better agreement before it stops
    "shift": 0,               # pixels the training images move by (shift.py; 0: none)
    "mix": 0,                 # teacher-labelled mixes per training image (mix.py; 0: none)
    "lr_decays": 2,           # plateaus met by base_lr x LR_DECAY_FACTOR before the stop
    "average": 0.0,           # decay of the weights' moving average (averaging.py; 0: none)
    "heldout": "auto",        # training images held out for the stop (1/12, at most 5,000)
    "test_interval": 500,     # at most (a fifth of the cap when that is smaller)
    "warmup": 500,            # at most (a tenth of the cap when that is smaller)
    "temperature": "auto",    # solver.teacher.profile.choose: from the teacher's logits
    "logit_scale": "auto",
    "base_lr": 0.01,          # the largest rate the probe tries (lr_probe; --lr: fixed)
    "batch_size": 64,
    "soft_weight": 1.0,
}
LR_DECAY_FACTOR = 0.1                 # Caffe's usual step gamma
PROBE_RATES = (1, 0.5, 0.25, 0.125)   # x base_lr, tried largest first
PROBE_ITERATIONS = 100                # per trial (at most; the cap when smaller)
STUDENTS = ("lenet", "cifar10_quick", "cifar10_full", "cifar10_mini", "nin", "vgg16", "alexnet")
# The deep students' defaults (bench/bench_vgg.py --ablation: the 2017 recipe stays at chance,
# these learn; README "The VGG-16 student"). Width 0.125 trains on two CPU cores; --width,
# --bn/--no-bn, --bn-fraction and --filler change them. bn_fraction 0.99: BatchNorm's test-time
# statistics follow the last ~100 batches instead of Caffe's ~1,000, whose lag behind the
# weights at lr 0.01 made the held-out passes (and so the plateau decisions) erratic.
VGG_DEFAULTS = {"student_opts": {"width": 0.125, "filler": "msra", "bn": True, "dropout": False,
                                 "bn_fraction": 0.99},
                "solver_opts": {}}
# The 2017 ts_vgg16 recipe (../shared/original/imagenet/alexnet-VGG): xavier fillers, no
# BatchNorm, Softmax -> SigmoidCrossEntropyLoss against the teacher's softmax, base_lr 0.003
# with a step policy (gamma 0.5 every 100,000 iterations). distill(**VGG_2017_RECIPE).
VGG_2017_RECIPE = {"loss": "2017", "student_opts": {"filler": "xavier", "bn": False},
                   "base_lr": 0.003,
                   "solver_opts": {"lr_policy": "step", "gamma": 0.5, "stepsize": 100000}}
ALEXNET_DEFAULTS = {"student_opts": {"width": 0.25, "dropout": False}, "solver_opts": {}}


# The student's options that distill sets itself, and from what.
DISTILL_SETS = {"arch": "--student", "tag": "distill", "num_classes": "the data (or the teacher)",
                "bottom": "distill", "frozen": "distill", "fillers": "distill",
                "params": "distill"}
# The distill flags that set a student option.
OPTION_FLAGS = {"width": "--width", "bn": "--bn/--no-bn", "filler": "--filler",
                "bn_fraction": "--bn-fraction"}


def check_student_opts(student, student_opts, flags=False):
    """Refuse, before anything runs, a student option that ``student``'s template does not
    read (it would be ignored), one distill sets itself, or a value the option does not
    take (prototxt.arch_options). Named as the user gave it: the flag (``flags``) or the
    ``student_opts`` key."""
    import difflib

    from prototxt.arch_options import check_option, options_of

    if student_opts is None:
        return
    if not isinstance(student_opts, dict):
        raise CaffeError(f"student_opts must be a mapping of template options, got "
                         f"{type(student_opts).__name__} {student_opts!r}")
    known = options_of(student)
    for name, value in student_opts.items():
        if value is None:   # None: the default
            continue
        said = OPTION_FLAGS.get(name, name) if flags else f"student_opts[{name!r}]"
        if name in DISTILL_SETS:
            raise CaffeError(f"{said}: the student's {name} is set by {DISTILL_SETS[name]}, "
                             f"not by student_opts")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listed = ", ".join(known) or "none"
            raise CaffeError(f"{said}: the {student} student has no option {name!r}{hint}; "
                             f"its options: {listed}")
        problem = check_option(student, name, value)
        if problem:
            raise CaffeError(f"{said} {problem}")
    if student_opts.get("bn_fraction") is not None and student_opts.get("bn") is False:
        said = "--bn-fraction" if flags else "student_opts['bn_fraction']"
        raise CaffeError(f"{said} sets BatchNorm's moving_average_fraction, but the student "
                         f"has no BatchNorm ({'--no-bn' if flags else 'bn False'})")


def student_defaults(student, sample_shape, student_opts=None):
    """Template options of ``student`` for data of ``sample_shape``: the deep students'
    defaults, then the user's options over them."""
    opts = {}
    if student == "vgg16":
        opts.update(VGG_DEFAULTS["student_opts"])
    elif student == "alexnet":
        opts.update(ALEXNET_DEFAULTS["student_opts"])
        if min(sample_shape[1:]) < 64:
            opts["stem"] = "small"   # 11x11/4 would leave nothing for pool5 at 28 or 32
    elif student == "nin" and tuple(sample_shape[1:]) != (32, 32):
        opts["global_pool"] = True   # the zoo's 8x8 pool3 fits only a 32x32 input
    opts.update({k: v for k, v in (student_opts or {}).items() if v is not None})
    return opts


@dataclass
class DistillOptions:
    """Everything ``tscaffe distill`` is told. None: the default (DEFAULTS; ``temperature``
    and ``logit_scale``: derived from the teacher's logits, solver.teacher.profile).

    ``teacher_output``: the graph output holding the logits. ``recover``: roll back and lower
    the rate when the loss diverges. ``echo``: called with each line saying what was chosen.
    ``student_opts``: template options of the student (width, bn, filler, ...);
    ``solver_opts``: solver fields over the defaults (lr_policy, stepsize, ...);
    ``bn_passes``: training batches over which a student's BatchNorm statistics are
    re-estimated after training (0: keep Caffe's moving averages). ``iterations``: the
    cap; ``patience``: stop after that many test passes without a better held-out
    agreement on ``heldout`` training images held out (None: 1/12 of the training set, at
    most 5,000; heldout.heldout_count), restoring the best pass's weights at the end (0:
    always run to the cap, train on every image, keep the last weights); ``warmup``: iterations of the linear warm-up of
    the rate (0: Caffe's inv from the start); both derived from the cap when None.
    ``average``: the decay of a moving average of the weights that the passes score and
    that is kept (averaging.WeightAverage; 0: none)."""
    teachers: list
    student: str = "lenet"
    data: str = None
    out: str = "distill_out"
    labels: bool = True
    loss: str = "kd"
    temperature: float = None
    iterations: int = None
    base_lr: float = None
    batch_size: int = None
    soft_weight: float = None
    teacher_params: dict = None
    blend: str = "prob"
    student_prototxt: str = None
    subset: tuple = None
    test_interval: int = None
    display: int = None
    seed: int = 1
    name: str = "distill"
    logit_scale: float = None
    teacher_output: str = None
    recover: bool = True
    echo: object = None
    student_opts: dict = None
    solver_opts: dict = None
    bn_passes: int = 200
    patience: int = None
    warmup: int = None
    heldout: int = None
    lr_probe: bool = None
    lr_decays: int = None
    shift: int = None
    mix: int = None
    average: float = None

    def resolved(self):
        """A checked copy with the defaults filled in (a clear error for a bad value)."""
        if not self.teachers:
            raise CaffeError("distill needs at least one --teacher ONNX model")
        if self.student not in STUDENTS:
            raise CaffeError(f"--student {self.student!r}: known student architectures: "
                             f"{', '.join(STUDENTS)}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        from solver.teacher.user_params import check_teacher_params, per_teacher

        values["teacher_params"] = check_teacher_params(self.teacher_params,
                                                        len(self.teachers))
        for key, cast in (("iterations", int), ("base_lr", float), ("batch_size", int),
                          ("soft_weight", float)):
            values[key] = DEFAULTS[key] if values[key] is None else cast(values[key])
        if values["iterations"] <= 0:
            raise CaffeError(f"--iterations must be positive, got {values['iterations']}")
        if self.logit_scale is not None and not float(self.logit_scale) > 0:
            raise CaffeError(f"--logit-scale must be positive, got {self.logit_scale}")
        if self.temperature is not None and not float(self.temperature) > 0:
            raise CaffeError(f"--temperature must be positive, got {self.temperature}")
        if self.student_prototxt and any(v is not None
                                         for v in (self.student_opts or {}).values()):
            raise CaffeError("student_opts are options of a student template; a student "
                             "given as a prototxt (--student-prototxt) takes none")
        check_student_opts(self.student, self.student_opts)
        if self.teacher_output:
            values["teacher_params"] = [
                dict(p, output=self.teacher_output)
                for p in per_teacher(values["teacher_params"], len(self.teachers))]
        cap = values["iterations"]
        values["test_interval"] = self.test_interval or max(
            min(DEFAULTS["test_interval"], cap // 5), 1)
        values["patience"] = DEFAULTS["patience"] if self.patience is None else int(self.patience)
        if values["patience"] < 0:
            raise CaffeError(f"--patience must be >= 0, got {self.patience}")
        values["shift"] = DEFAULTS["shift"] if self.shift is None else int(self.shift)
        if values["shift"] < 0:
            raise CaffeError(f"--shift must be >= 0, got {self.shift}")
        values["mix"] = DEFAULTS["mix"] if self.mix is None else int(self.mix)
        if values["mix"] < 0:
            raise CaffeError(f"--mix must be >= 0, got {self.mix}")
        if values["mix"] and values["labels"] and values["soft_weight"] < 1.0:
            raise CaffeError(f"--mix {values['mix']}: a mix of two images has no label to "
                             f"train on; use it with --no-labels or --soft-weight 1 (got "
                             f"{values['soft_weight']:g})")
        values["lr_decays"] = (DEFAULTS["lr_decays"] if self.lr_decays is None
                               else int(self.lr_decays))
        if values["lr_decays"] < 0:
            raise CaffeError(f"--lr-decays must be >= 0, got {self.lr_decays}")
        values["average"] = (DEFAULTS["average"] if self.average is None
                             else float(self.average))
        if not 0.0 <= values["average"] < 1.0:
            raise CaffeError(f"--average must be in [0, 1) (0: no weight average), got "
                             f"{self.average}")
        # The rate is probed unless the user gave one (lr_probe.probe_lr): base_lr and
        # its halvings, each for PROBE_ITERATIONS (at most the cap).
        values["lr_probe"] = (self.base_lr is None if self.lr_probe is None
                              else bool(self.lr_probe))
        if self.heldout is not None and int(self.heldout) < 1:
            raise CaffeError(f"--heldout must be >= 1, got {self.heldout}")
        warmup = (min(DEFAULTS["warmup"], cap // 10) if self.warmup is None
                  else int(self.warmup))
        if warmup < 0:
            raise CaffeError(f"--warmup must be >= 0, got {self.warmup}")
        values["warmup"] = warmup
        solver_opts = dict(self.solver_opts or {})
        if "lr_policy" not in solver_opts and warmup > 0:
            solver_opts.update(lr_policy="warmup_inv", stepsize=warmup)
        values["solver_opts"] = solver_opts or None
        values["display"] = self.display or max(values["iterations"] // 20, 1)
        return DistillOptions(**values)

    def probe(self):
        """(candidate rates, iterations per trial) of the learning-rate probe, or None."""
        if not self.lr_probe:
            return None
        warmup = 0 if (self.solver_opts or {}).get("lr_policy", "inv") != "warmup_inv" \
            else self.warmup
        return ([self.base_lr * f for f in PROBE_RATES],
                max(min(PROBE_ITERATIONS, self.iterations), 1), warmup)

    def path(self, suffix):
        """``<out>/<name><suffix>``: the run's files."""
        return os.path.join(self.out, f"{self.name}{suffix}")
