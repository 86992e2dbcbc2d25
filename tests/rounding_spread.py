"""How far our own training run moves under rounding-sized perturbations: the yardstick for
comparing a many-iteration run with Caffe's.

Over tens of SGD steps, float32 rounding differences (another BLAS kernel or thread count
sums in another order) are amplified: a max-pooling or ReLU decision that flips between two
nearly equal values reroutes a gradient, and the weights of the two runs part by far more
than one rounding. Caffe's run is one such run. So the run is repeated here with noise of
TOP_NOISE of each GEMM layer's largest output added after its forward (the size of the
differences between BLAS kernels' sums), and Caffe's numbers must lie within SPREAD_FACTOR
times the largest distance those repeats put between themselves and our run, over each
array (which elements a flipped decision moves differs between runs; how far it moves them
does not).
"""
import os

import numpy as np

SPREAD_FACTOR = 10
TOP_NOISE = 1e-7
GEMM_LAYERS = ("Convolution", "InnerProduct")  # the outputs whose sums a BLAS orders


def perturbed_runs(folder, prefix_dir, seeds=(1, 2), solver_file="solver.prototxt",
                   weights="init.caffemodel"):
    """Train ``folder/solver_file`` from ``weights`` in-process once per seed, with GEMM
    outputs perturbed; returns [(params by layer, history arrays)] of each final snapshot.
    Snapshots go to ``prefix_dir`` (never into ``folder``)."""
    from caffe_compat.io import load_caffemodel_arrays, read_solverstate, solverstate_history
    from prototxt.io import read_solver
    from solver import get_solver

    out = []
    cwd = os.getcwd()
    os.chdir(folder)  # relative LMDB and mean paths resolve as Caffe resolves them
    try:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            param = read_solver(solver_file)
            param.snapshot_prefix = os.path.join(str(prefix_dir), f"perturbed{seed}")
            s = get_solver(param)
            s.net.copy_from(weights)
            for net in s.test_nets:
                net.copy_from(weights)

            def perturb(index, net=s.net, rng=rng):
                if net.layers[index].type not in GEMM_LAYERS:
                    return
                for blob in net.layer_tops(index):
                    d = blob.data
                    d += (TOP_NOISE * float(np.abs(d).max()) * rng.standard_normal(d.shape)).astype(d.dtype)

            s.net.after_forward(perturb)
            s.solve()
            stem = f"{param.snapshot_prefix}_iter_{s.iter}"
            state = read_solverstate(stem + ".solverstate")
            out.append((load_caffemodel_arrays(stem + ".caffemodel"), solverstate_history(state)))
    finally:
        os.chdir(cwd)
    return out


def spread_of(ours, others):
    """The largest |ours - other| over the array and the repeats."""
    ours = np.asarray(ours, np.float64)
    return max(float(np.abs(ours - np.asarray(o, np.float64)).max()) for o in others)


def assert_within(ours, caffe, spread, what, rtol=1e-4, scale_atol=1e-5):
    """|ours - caffe| <= scale_atol * max|caffe| + SPREAD_FACTOR * spread + rtol * |caffe|,
    element by element; ``spread`` is a number or an array of ``caffe``'s shape."""
    ours, caffe = np.asarray(ours, np.float64), np.asarray(caffe, np.float64)
    spread = np.broadcast_to(np.asarray(spread, np.float64), caffe.shape)
    scale = float(np.abs(caffe).max()) if caffe.size else 0.0
    allowed = scale_atol * scale + SPREAD_FACTOR * spread + rtol * np.abs(caffe)
    excess = np.abs(ours - caffe) - allowed
    if (excess > 0).any():
        i = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), caffe.shape))
        raise AssertionError(f"{what}: {int((excess > 0).sum())}/{caffe.size} elements differ from "
                             f"Caffe's; worst at {i}: ours {ours[i]:.8g}, Caffe {caffe[i]:.8g}, "
                             f"allowed {allowed[i]:.3g} (spread of our perturbed runs {spread[i]:.3g})")
