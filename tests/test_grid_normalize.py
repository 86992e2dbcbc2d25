"""BatchNorm, Scale and Bias on real nets' shapes against per-channel loops.

BatchNorm: one channel at a time (its values over batch and space), in both modes: batch
statistics (TRAIN; the stored sums are updated as Caffe's moving averages) and the stored
statistics (TEST). Scale / Bias: one scale/bias entry at a time over the (outer, inner)
values it multiplies. Threads off and forced on.
"""
import numpy as np
import pytest

from grid_support import assert_close, f64, run_layer, threads, uniform  # noqa: F401


def bn_reference(x, dy, mean_sum, var_sum, factor, use_global, maf, eps):
    c = x.shape[1]
    xc, dyc = np.moveaxis(x, 1, 0).reshape(c, -1), np.moveaxis(dy, 1, 0).reshape(c, -1)
    m = xc.shape[1]
    y, dx = np.zeros_like(xc), np.zeros_like(xc)
    new_mean, new_var = np.zeros(c), np.zeros(c)
    for ch in range(c):
        if use_global:
            s = 0.0 if factor == 0 else 1.0 / factor
            mean, var = mean_sum[ch] * s, var_sum[ch] * s
        else:
            mean = xc[ch].mean()
            var = ((xc[ch] - mean) ** 2).mean()
        std = np.sqrt(var + eps)
        y[ch] = (xc[ch] - mean) / std
        if use_global:
            dx[ch] = dyc[ch] / std
        else:
            dx[ch] = (dyc[ch] - dyc[ch].mean() - y[ch] * (dyc[ch] * y[ch]).mean()) / std
        new_mean[ch] = maf * mean_sum[ch] + mean
        new_var[ch] = maf * var_sum[ch] + (m / (m - 1) if m > 1 else 1.0) * var
    back = (lambda a: np.moveaxis(a.reshape((c, x.shape[0]) + x.shape[2:]), 0, 1))
    return back(y), back(dx), new_mean, new_var, maf * factor + 1


@pytest.mark.parametrize("shape", [(2, 64, 56, 56), (1, 512, 7, 7), (4, 16), (3, 8, 1, 1),
                                   (2, 3, 112, 111)])
@pytest.mark.parametrize("phase", [0, 1], ids=["train_batch_stats", "test_global_stats"])
def test_batch_norm_grid(shape, phase, threads):
    c = shape[1]
    x = uniform(shape, c, -3, 5)
    params = [uniform((c,), 1, -2, 2), uniform((c,), 2, 0.5, 3), np.array([2.5], np.float32)]
    maf, eps = 0.9, 1e-3
    text = f"type: 'BatchNorm' batch_norm_param {{ moving_average_fraction: {maf} eps: {eps} }}"
    layer, bottom, top, (dy,) = run_layer(text, [x], phase=phase, params=params)
    y, dx, mean, var, factor = bn_reference(f64(x), dy, *map(f64, params[:2]), 2.5,
                                            phase == 1, maf, eps)
    what = f"BatchNorm {shape} phase {phase} threads {threads}"
    assert_close(top[0].data, y, what + " forward")
    assert_close(bottom[0].diff, dx, what + " backward", rtol=2e-4, scale_atol=2e-5)
    if phase == 0:
        assert_close(layer.blobs[0].data, mean, what + " mean sum")
        assert_close(layer.blobs[1].data, var, what + " variance sum")
        assert_close(layer.blobs[2].data, [factor], what + " factor")


def scale_reference(x, s, b, dy, axis):
    """x viewed as (outer, S, inner), S = the scale's entries; one entry at a time."""
    outer = int(np.prod(x.shape[:axis]))
    x3, dy3 = x.reshape(outer, s.size, -1), dy.reshape(outer, s.size, -1)
    sf = s.reshape(-1)
    y3, dx3 = np.zeros_like(x3), np.zeros_like(x3)
    ds, db = np.zeros(s.size), np.zeros(s.size)
    for k in range(s.size):
        y3[:, k] = x3[:, k] * sf[k] + (b.reshape(-1)[k] if b is not None else 0)
        dx3[:, k] = dy3[:, k] * sf[k]
        ds[k] = (dy3[:, k] * x3[:, k]).sum()
        db[k] = dy3[:, k].sum()
    return y3.reshape(x.shape), dx3.reshape(x.shape), ds.reshape(s.shape), db.reshape(s.shape)


# (shape, scale shape, axis, num_axes)
SCALE_GRID = [
    ((2, 64, 56, 56), (64,), 1, 1),       # after BatchNorm (ResNet)
    ((1, 512, 7, 7), (512,), 1, 1),
    ((2, 3, 4, 5), (2, 3), 0, 2),
    ((2, 3, 4, 5), (4, 5), 2, -1),
    ((3, 6, 7, 7), (), 1, 0),             # one scalar for everything
    ((4, 1000), (1000,), 1, 1),
]


@pytest.mark.parametrize("shape,sshape,axis,num_axes", SCALE_GRID)
@pytest.mark.parametrize("kind", ["Scale", "Scale with bias", "Bias"])
def test_scale_and_bias_grid(shape, sshape, axis, num_axes, kind, threads):
    x = uniform(shape, len(sshape) + axis)
    s = uniform(sshape, 7, 0.5, 1.5)
    b = uniform(sshape, 8)
    field = "scale_param" if kind.startswith("Scale") else "bias_param"
    bias_term = " bias_term: true" if kind == "Scale with bias" else ""
    text = (f"type: '{kind.split()[0]}' {field} {{ axis: {axis} num_axes: {num_axes}{bias_term} }}")
    params = [b] if kind == "Bias" else ([s, b] if bias_term else [s])
    layer, bottom, top, (dy,) = run_layer(text, [x], params=params)
    one = np.ones(sshape)
    y, dx, ds, db = scale_reference(f64(x), one if kind == "Bias" else f64(s),
                                    None if kind == "Scale" else f64(b), dy, axis)
    what = f"{kind} {shape} scale {sshape} axis {axis} threads {threads}"
    assert_close(top[0].data, y, what + " forward")
    assert_close(bottom[0].diff, dx, what + " dx")
    if kind == "Bias":
        assert_close(layer.blobs[0].diff, db, what + " db")
    else:
        assert_close(layer.blobs[0].diff, ds, what + " ds")
        if bias_term:
            assert_close(layer.blobs[1].diff, db, what + " db")


@pytest.mark.parametrize("kind", ["Scale", "Bias"])
@pytest.mark.parametrize("shape,sshape,axis", [((2, 64, 28, 28), (64,), 1), ((2, 3, 4, 5), (3, 4), 1),
                                              ((3, 5, 6), (3,), 0)])
def test_scale_and_bias_second_bottom_grid(shape, sshape, axis, kind, threads):
    x, s = uniform(shape, 1), uniform(sshape, 2, 0.5, 1.5)
    field = "scale_param" if kind == "Scale" else "bias_param"
    layer, bottom, top, (dy,) = run_layer(f"type: '{kind}' {field} {{ axis: {axis} }}", [x, s])
    if kind == "Scale":
        y, dx, ds, _ = scale_reference(f64(x), f64(s), None, dy, axis)
    else:
        y, dx, _, ds = scale_reference(f64(x), np.ones(sshape), f64(s), dy, axis)
    what = f"{kind} by bottom 1 {shape} {sshape} axis {axis} threads {threads}"
    assert_close(top[0].data, y, what + " forward")
    assert_close(bottom[0].diff, dx, what + " dx")
    assert_close(bottom[1].diff, ds, what + " d bottom 1")
