"""The job's nets and solver: configs for the templates (prototxt.render), rendered into
the run's folder; a user's own student prototxt is spliced in (splice.py)."""
import os

from caffe_compat.errors import CaffeError
from prototxt.render import render_config, write_rendered

from .splice import splice_student


def test_batch(n):
    """The largest batch <= 100 that divides the test set, so one pass sees each sample once."""
    return max(b for b in range(1, min(100, n) + 1) if n % b == 0)


HELDOUT_STAGE = "heldout"


def student_tag(student):
    """The suffix of the student's layer names. The deep students keep Caffe's own names
    (conv1_1 ... fc8: a model-zoo caffemodel loads into them by name); the ONNX teacher has
    no layers to clash with."""
    return "" if student in ("vgg16", "alexnet") else "_s"


def net_configs(spec, student, teacher_cfg, loss="kd", temperature=4.0, soft_weight=1.0,
                labels=True, batch_size=64, tag="_s", student_opts=None, heldout=None,
                shifted=None):
    """Configs of the student net (standalone) and the teacher-student net.

    ``heldout`` (a heldout.Split): the TRAIN data layer reads its fit records, and the
    teacher-student net gets a second TEST data layer reading the held-out slice, included
    only with the stage ``heldout`` (the solver's test_state); the test split's layer has
    ``not_stage: heldout``, so the net in plain TEST phase still reads the test split.

    ``shifted`` = (padded LMDB, crop size): the teacher-student net's TRAIN layer reads the
    padded copy of its records and crops them randomly back to their size (shift.py)."""
    batch = test_batch(spec.num_test)
    tf = spec.transform
    train_lmdb = heldout.fit_lmdb if heldout else spec.train_lmdb

    def data(train_tops, split=False, shifts=False):
        test = {"name": "data", "phase": "TEST", "source": os.path.abspath(spec.test_lmdb),
                "batch_size": batch, "backend": "LMDB", "transform": tf}
        source, train_tf = train_lmdb, tf
        if shifts and shifted:
            source, train_tf = shifted[0], dict(tf, crop_size=int(shifted[1]))
        layers = [{"name": "data", "phase": "TRAIN", "source": os.path.abspath(source),
                   "batch_size": batch_size, "backend": "LMDB", "transform": train_tf,
                   "tops": train_tops}, test]
        if split:
            del test["phase"]
            test["include"] = {"phase": "TEST", "not_stage": HELDOUT_STAGE}
            layers.append({"name": "data", "include": {"phase": "TEST", "stage": HELDOUT_STAGE},
                           "source": os.path.abspath(heldout.heldout_lmdb),
                           "batch_size": test_batch(heldout.num_heldout), "backend": "LMDB",
                           "transform": tf})
        return layers

    member = dict({"arch": student, "tag": tag, "num_classes": spec.num_classes},
                  **(student_opts or {}))
    student_net = {"name": f"{student}_student", "data": data(["data", "label"]),
                   "model": dict(member)}
    # Labels enter the TRAIN net only when a hard loss uses them: an unused label top would
    # be a net output (and Caffe prints every value of an output blob on each display).
    hard = labels and soft_weight < 1.0
    ts = {"name": f"{student}_ts",
          "data": data(["data", "label"] if hard else ["data"], split=heldout is not None,
                       shifts=True),
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
    return student_net, ts, batch


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
    files = render_config(configs)
    write_rendered(files, out)
    return sorted(files)


def write_nets(opts, dataset, teacher_params, temperature, student_opts, heldout=None,
               shifted=None):
    """Render the teacher-student net, the student alone and the solver into ``opts.out``
    (the user's student spliced in when given); returns (ts, student, solver) paths.
    With ``heldout`` (a heldout.Split) the solver's one test net is the held-out slice
    (test_state stage ``heldout``); else the test split."""
    tag = student_tag(opts.student)
    student_net, ts_net, batch = net_configs(
        dataset, opts.student, teacher_params, opts.loss, temperature or 1.0, opts.soft_weight,
        opts.labels, opts.batch_size, tag=tag, student_opts=student_opts, heldout=heldout,
        shifted=shifted)
    name = opts.name
    ts_path, student_path = opts.path("_ts.prototxt"), opts.path("_student.prototxt")
    test_iter = dataset.num_test // batch
    if heldout is not None:
        test_iter = heldout.num_heldout // test_batch(heldout.num_heldout)
    solver = solver_config(ts_path, opts.path("_ts"), opts.iterations, opts.base_lr, test_iter,
                           opts.test_interval, opts.display, opts.seed)
    if heldout is not None:
        solver["test_state"] = [{"stage": [HELDOUT_STAGE]}]
    configs = {
        "nets": {f"{name}_ts": ts_net, f"{name}_student": student_net},
        "solvers": {f"{name}_solver": dict(solver, **(opts.solver_opts or {}))},
    }
    render_files(configs, opts.out)
    if opts.student_prototxt:
        splice_student(opts.student_prototxt, student_path, ts_path)
    return ts_path, student_path, opts.path("_solver.prototxt")
