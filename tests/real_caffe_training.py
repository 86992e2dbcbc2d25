"""The 2017 teacher-student nets trained for a few iterations, the same way in real Caffe 1.0
(tests/tools/record_real_caffe_training.py, which records Caffe's log and snapshot) and in
tscaffe (tests/test_real_caffe_training.py, which compares).

Everything a run reads is made here, deterministically, with no Caffe needed: the LMDBs
(MNIST digits from ../shared/datasets; CIFAR-shaped records from a seeded generator, since
no CIFAR-10 is at hand), the mean file, the net (the original prototxt with its sources
pointed at them), the solver (the original solver's settings with a short schedule) and the
initial weights (seeded normal draws, so the run does not depend on either side's fillers;
the teacher's random weights give soft labels that are as good as any for comparing
arithmetic).
"""
import os
import re

import numpy as np

from conftest import ORIGINAL, SHARED

# name -> (original net, original solver, dataset, train records, test records, iterations)
CASES = {
    "ts_lenet": ("mnist/ts_lenet.prototxt", "mnist/ts_lenet_solver.prototxt", "mnist", 640, 200, 30),
    "ts_cifar10": ("cifar10/ts_cifar10.prototxt", "cifar10/ts_cifar10_solver.prototxt", "cifar", 400, 200, 20),
}
# glog lines as (file:line, message): the solver's, and the caffe tool's own.
_GLOG = r"^[IWEF]\d{{4}} [\d:.]+ +\d+ ({})\] (.*)$"
SOLVER_LINE = re.compile(_GLOG.format(r"(?:solver|sgd_solver)\.cpp:\d+"))
TOOL_LINE = re.compile(_GLOG.format(r"caffe\.cpp:\d+"))


def log_lines(log, pattern):
    """[[file:line, message]] of the lines of ``log`` that ``pattern`` matches, in order."""
    return [[m.group(1), m.group(2)] for m in map(pattern.match, log.splitlines()) if m]


SOLVER_OVERRIDES = dict(test_iter=[2], test_interval=10, display=1, snapshot_prefix="snap",
                        solver_mode=0, random_seed=1)


def _records(dataset, n_train, n_test):
    if dataset == "mnist":
        from caffe_compat.data.datasets import read_idx_pair

        folder = SHARED / "datasets" / "mnist"
        images, labels = read_idx_pair(folder / "train-images-idx3-ubyte.gz",
                                       folder / "train-labels-idx1-ubyte.gz")
        return (images[:n_train], labels[:n_train]), (images[n_train:n_train + n_test],
                                                       labels[n_train:n_train + n_test])
    rng = np.random.default_rng(10)
    images = rng.integers(0, 256, size=(n_train + n_test, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_train + n_test)
    return (images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:])


def _init_weights(net, param, seed=3):
    """Seeded draws shaped like each layer's own fillers (gaussian std, xavier's uniform
    bound sqrt(3 / fan_in), constant value), from numpy directly, so that the initial weights
    do not depend on either side's filler code."""
    rng = np.random.default_rng(seed)
    fillers = {}
    for layer in param.layer:
        p = layer.convolution_param if layer.type == "Convolution" else layer.inner_product_param
        fillers[layer.name] = (p.weight_filler, p.bias_filler)
    for layer in net._layer_names:
        for k, blob in enumerate(net.params.get(layer, [])):
            filler = fillers[layer][min(k, 1)]
            fan_in = blob.count // blob.shape[0]
            if filler.type == "gaussian":
                blob.data[...] = rng.normal(0, filler.std, blob.shape)
            elif filler.type == "xavier":
                bound = np.sqrt(3.0 / fan_in)
                blob.data[...] = rng.uniform(-bound, bound, blob.shape)
            else:
                blob.data[...] = filler.value


def prepare(case, folder):
    """Write the LMDBs, mean file, net.prototxt, solver.prototxt and init.caffemodel of
    ``case`` into ``folder``; returns the folder (a run starts there)."""
    from caffe_compat import TRAIN, Net
    from caffe_compat.data.convert import compute_mean, write_datum_lmdb, write_mean_binaryproto
    from prototxt.io import read_net, read_solver, to_text

    net_file, solver_file, dataset, n_train, n_test, iters = CASES[case]
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    (train_x, train_y), (test_x, test_y) = _records(dataset, n_train, n_test)
    write_datum_lmdb(train_x, train_y, os.path.join(folder, "train_lmdb"))
    write_datum_lmdb(test_x, test_y, os.path.join(folder, "test_lmdb"))
    param = read_net(str(ORIGINAL / net_file))
    for layer in param.layer:
        if layer.type != "Data":
            continue
        train = any(rule.phase == 0 for rule in layer.include)
        layer.data_param.source = "train_lmdb" if train else "test_lmdb"
        if layer.transform_param.mean_file:
            layer.transform_param.mean_file = "mean.binaryproto"
    if any(layer.transform_param.mean_file for layer in param.layer):
        write_mean_binaryproto(os.path.join(folder, "mean.binaryproto"),
                               compute_mean(os.path.join(folder, "train_lmdb")))
    with open(os.path.join(folder, "net.prototxt"), "w") as f:
        f.write(to_text(param))
    solver = read_solver(str(ORIGINAL / solver_file))
    solver.net = "net.prototxt"
    solver.max_iter = solver.snapshot = iters
    for key, value in SOLVER_OVERRIDES.items():
        if isinstance(value, list):
            del getattr(solver, key)[:]
            getattr(solver, key).extend(value)
        else:
            setattr(solver, key, value)
    with open(os.path.join(folder, "solver.prototxt"), "w") as f:
        f.write(to_text(solver))
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        net = Net("net.prototxt", TRAIN)
        _init_weights(net, param)
        net.save("init.caffemodel")
    finally:
        os.chdir(cwd)
    return folder
