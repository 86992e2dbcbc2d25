"""Every solver variant of ../shared/caffe-reference/solvers against Caffe 1.0's trajectory.

As the fixture README says: get_solver(solver.prototxt), copy init.caffemodel, then N times
step(1) with the data/label blobs set to the next batch right before each forward pass;
finally snapshot(). Compared with Caffe's numbers: the rate and loss of every iteration,
the parameters after the first and the last update, the history blobs, current_step, the
clipping log lines, and the snapshot files (ours against Caffe's, both ways).
"""
import re

import numpy as np
import pytest

from conftest import CAFFE_REF, need

VARIANTS = ["sgd_inv", "sgd_step_mult", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
            "sgd_itersize", "sgd_clip", "sgd_l1"]
RTOL = 1e-4
ULP_NOISE = 1.2e-7


def close(ours, caffe, what, spread=None):
    """rtol 1e-4; the absolute floor (1e-5 of the array's scale) covers float32 rounding
    of values that are nearly 0 compared to the rest of the array.

    ``spread`` (same shape) widens the floor element by element: it is how far our own run
    moves when its batches are reordered and its pixels carry an ulp of noise (see
    ``perturbed_spread``). The adaptive solvers divide every gradient by its own running
    magnitude, so an element whose gradient is near the rounding floor (a few 1e-8 against a
    largest one of 0.26 in adam's ip_s1) takes a step that depends on how the BLAS summed it:
    another kernel or thread count moves it by ~1e-5 where its neighbours agree to 1e-8.
    Such elements get SPREAD_FACTOR times their measured spread (rounding_spread.py); the
    others stay tight."""
    from rounding_spread import assert_within

    ours, caffe = np.asarray(ours), np.asarray(caffe)
    assert ours.shape == caffe.shape, f"{what}: shape {ours.shape} != Caffe's {caffe.shape}"
    assert_within(ours, caffe, 0.0 if spread is None else spread, what, rtol=RTOL)


def build(variant, tmp_path):
    from prototxt.io import read_solver
    from solver import get_solver

    folder = need(CAFFE_REF / "solvers" / variant)
    param = read_solver(str(folder / "solver.prototxt"))
    param.net = str(folder / "net.prototxt")  # Caffe resolves it from the CWD (the folder)
    param.snapshot_prefix = str(tmp_path / "snap")  # never write into ../shared
    s = get_solver(param)
    s.net.copy_from(str(folder / "init.caffemodel"))
    return s, folder


def run_variant(variant, tmp_path, shuffle_seed=None):
    s, folder = build(variant, tmp_path)
    batches = np.load(folder / "batches.npz")
    traj = np.load(folder / "trajectory.npz")
    fed = [0]

    rng = np.random.default_rng(shuffle_seed)

    def feed():
        data, label = batches["data"][fed[0]], batches["label"][fed[0]]
        if shuffle_seed is not None:
            order = rng.permutation(len(label))
            data, label = data[order], label[order]
            # and about one float32 ulp of noise on the pixels, which rounding everywhere
            # downstream turns into rounding-sized differences in every sum
            data = (data * (1 + ULP_NOISE * rng.standard_normal(data.shape))).astype(np.float32)
        s.net.blobs["data"].data[...] = data
        s.net.blobs["label"].data[...] = label
        fed[0] += 1

    s.add_callback(before_forward=feed)
    lrs, losses, sublosses, after_first = [], [], [], None
    for i in range(len(traj["lr"])):
        lrs.append(s.lr)
        s.step(1)
        losses.append(s.loss)
        sublosses.append(list(s.pass_losses))
        if i == 0:
            after_first = {n: b.data.copy() for n, b in
                           zip(s.net.learnable_param_names, s.net.learnable_params)}
    return s, folder, traj, dict(lr=lrs, loss=losses, subloss=sublosses, first=after_first)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cache = {}

    def get(variant):
        if variant not in cache:
            s, folder, traj, got = run_variant(variant, tmp_path_factory.mktemp(variant))
            got["spread"] = perturbed_spread(variant, s, got, tmp_path_factory)
            cache[variant] = s, folder, traj, got
        return cache[variant]

    return get


def perturbed_spread(variant, s, got, tmp_path_factory, seeds=(1, 2, 3, 4)):
    """How far each parameter and history element moves when our own run is repeated with
    rounding-sized gradient noise: the largest move over ``seeds``. Keys: ``first/<param>``,
    ``param/<param>``, ``history/<k>``."""
    names = s.net.learnable_param_names
    spread = {}

    def widen(key, a, b):
        d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
        spread[key] = np.maximum(spread[key], d) if key in spread else d

    for seed in seeds:
        p, _, _, pgot = run_variant(variant, tmp_path_factory.mktemp(f"{variant}_noise"), shuffle_seed=seed)
        for name, blob, pblob in zip(names, s.net.learnable_params, p.net.learnable_params):
            widen(f"first/{name}", got["first"][name], pgot["first"][name])
            widen(f"param/{name}", blob.data, pblob.data)
        for k, (h, ph) in enumerate(zip(s.history, p.history)):
            widen(f"history/{k}", h, ph)
    return spread


@pytest.mark.parametrize("variant", VARIANTS)
def test_trajectory_matches_caffe(variant, runs, capfd):
    s, folder, traj, got = runs(variant)
    n = len(traj["lr"])
    assert s.iter == int(traj["iter"]) == n
    close(np.array(got["lr"], np.float32), traj["lr"], "lr")
    close(np.array(got["loss"], np.float32), traj["loss"], "loss")
    close(np.array(got["subloss"], np.float32), traj["subloss"], "subloss")
    names = s.net.learnable_param_names
    assert names == ["conv_s1/0", "conv_s1/1", "conv_s2/0", "conv_s2/1",
                     "ip_s1/0", "ip_s1/1", "ip_s2/0", "ip_s2/1"]
    spread = got["spread"]
    for name, blob in zip(names, s.net.learnable_params):
        close(got["first"][name], traj[f"param_iter1/{name}"], f"{name} after update 1",
              spread[f"first/{name}"])
        close(blob.data, traj[f"param/{name}"], f"{name} after update {n}", spread[f"param/{name}"])
    for k, name in enumerate(names):
        close(s.history[k], traj[f"history/{name}"], f"history {name}", spread[f"history/{k}"])
    if f"history2/{names[0]}" in traj:
        assert len(s.history) == 2 * len(names)
        for k, name in enumerate(names):
            k2 = len(names) + k
            close(s.history[k2], traj[f"history2/{name}"], f"history2 {name}", spread[f"history/{k2}"])
    else:
        assert len(s.history) == len(names)
    assert s.current_step == int(traj["solverstate/current_step"])


def test_clip_log_lines_match_caffe(tmp_path, capfd):
    traj = np.load(need(CAFFE_REF / "solvers/sgd_clip/trajectory.npz"))
    capfd.readouterr()
    run_variant("sgd_clip", tmp_path)
    err = capfd.readouterr().err
    found = re.findall(r"sgd_solver\.cpp:99\] Gradient clipping: scaling down gradients "
                       r"\(L2 norm (\S+) > 0\.5\) by scale factor (\S+)\n", err)
    clipped = ~np.isnan(traj["clip_l2norm_logged"])
    assert len(found) == int(clipped.sum()) > 0
    norms = np.array([float(a) for a, _ in found], np.float32)
    scales = np.array([float(b) for _, b in found], np.float32)
    close(norms, traj["clip_l2norm_logged"][clipped], "clip norm")
    close(scales, traj["clip_scale_logged"][clipped], "clip scale")


@pytest.mark.parametrize("variant", VARIANTS)
def test_snapshot_files_equal_caffes(variant, runs, tmp_path):
    from caffe_compat.io import load_caffemodel_arrays, read_solverstate, solverstate_history
    from caffe_compat.proto import caffe_pb2

    s, folder, traj, got = runs(variant)
    spread = got["spread"]
    s.param.snapshot_prefix = str(tmp_path / "snap")
    model, state_path = s.snapshot()
    assert model == str(tmp_path / "snap_iter_30.caffemodel")
    ours = load_caffemodel_arrays(model)
    caffe = load_caffemodel_arrays(str(folder / "snap_iter_30.caffemodel"))
    assert list(ours) == list(caffe)
    for layer in caffe:
        for k, arr in enumerate(caffe[layer]):
            close(ours[layer][k], arr, f"caffemodel {layer}/{k}", spread[f"param/{layer}/{k}"])
    # One entry per layer, parameter-less layers included, as Caffe writes.
    mine, theirs = caffe_pb2.NetParameter(), caffe_pb2.NetParameter()
    mine.ParseFromString(open(model, "rb").read())
    theirs.ParseFromString((folder / "snap_iter_30.caffemodel").read_bytes())
    assert [(l.name, l.type) for l in mine.layer] == [(l.name, l.type) for l in theirs.layer]
    st_ours, st_caffe = read_solverstate(state_path), read_solverstate(str(folder / "snap_iter_30.solverstate"))
    assert (st_ours.iter, st_ours.current_step) == (st_caffe.iter, st_caffe.current_step)
    assert st_ours.learned_net == model
    h_ours, h_caffe = solverstate_history(st_ours), solverstate_history(st_caffe)
    assert len(h_ours) == len(h_caffe)
    for k, (a, b) in enumerate(zip(h_ours, h_caffe)):
        close(a, b, f"solverstate history {k}", spread[f"history/{k}"])


@pytest.mark.parametrize("variant", ["sgd_step_mult", "adam"])
def test_restore_caffes_solverstate(variant, tmp_path, monkeypatch):
    """Caffe's own .solverstate restores: iter, current_step, history, learned_net weights."""
    from caffe_compat.io import load_caffemodel_arrays

    s, folder = build(variant, tmp_path)
    traj = np.load(folder / "trajectory.npz")
    monkeypatch.chdir(folder)  # learned_net "snap_iter_30.caffemodel" is relative, as in Caffe
    s.restore("snap_iter_30.solverstate")
    assert s.iter == 30 and s.current_step == int(traj["solverstate/current_step"])
    names = s.net.learnable_param_names
    for k, name in enumerate(names):
        close(s.history[k], traj[f"history/{name}"], f"restored history {name}")
    weights = load_caffemodel_arrays("snap_iter_30.caffemodel")
    for name, blob in zip(names, s.net.learnable_params):
        layer, k = name.split("/")
        np.testing.assert_array_equal(blob.data, weights[layer][int(k)])
