"""Every case of ../shared/caffe-reference/layers/ and nets/ through the whole Net, against
real Caffe 1.0: forward outputs, every diff, parameter diffs, parameters after forward.

The procedure is the generator's (see the README there): build in ``meta/phase``, copy the
weights, set the inputs, Forward; set the non-loss outputs' diffs from ``topdiff/`` (loss
outputs must already hold their loss weight); one Backward with zeroed parameter diffs.
"""
import numpy as np
import pytest

import caffe_compat as caffe
from conftest import CAFFE_REF, need

# rtol 1e-4, and an absolute floor of 1e-5 of the blob's largest value (at least 1e-5): float32
# sums (im2col GEMMs, reductions) round to about 1e-6 of the values summed, and the order of
# the sum differs with the BLAS kernel and its thread count, so an element that cancels to
# nearly 0 in a blob of hundreds (ts_cifar10's convolutions) differs by ~1e-4 in absolute
# terms on some machines. A wrong layer is off by far more than 1e-5 of the blob's scale.
RTOL, ATOL, SCALE_ATOL = 1e-4, 1e-5, 1e-5
# The fast engine's convolutions sum in other orders than Caffe's, so where two values of a
# MAX window are exactly equal in Caffe (ts_cifar10's conv_s_1 has 2 such windows among
# 100x32x16x16) the fast engine's rounding may pick the other one, and every gradient below
# that pool moves by the flipped element's share (conv_s_1's dW: 5.7e-4 of its largest
# value, with onnxruntime's NCHWc kernels). So on the fast engine the net cases' gradients
# (diff/, paramdiff/) are held to TIE_ATOL of the blob's largest value, as
# tests/test_zoo_nets.py holds its nets; forward outputs keep the tolerance above, and the
# CAFFE engine, Caffe's own order, keeps it everywhere.
TIE_ATOL = 1e-2


def case_names(kind):
    folder = CAFFE_REF / kind
    return sorted(p.name for p in folder.iterdir() if (p / "case.npz").exists()) if folder.exists() else []


def stored_part(got, want):
    """The part of ``got`` the fixture stores: all of it, or the first K samples."""
    got = np.asarray(got)
    if got.shape == want.shape:
        return got
    if want.ndim == 0 and got.size == 1:
        return got.reshape(())
    if got.ndim == want.ndim and got.ndim and got.shape[1:] == want.shape[1:] and want.shape[0] < got.shape[0]:
        return got[:want.shape[0]]
    return got


def compare(errors, what, got, want, scale_atol=SCALE_ATOL):
    want = np.asarray(want)
    got = stored_part(got, want)
    if got.shape != want.shape:
        errors.append(f"{what}: shape {got.shape}, Caffe {want.shape}")
        return
    atol = max(ATOL, scale_atol * float(np.max(np.abs(want)))) if want.size else ATOL
    bad = ~np.isclose(got, want, rtol=RTOL, atol=atol)
    if bad.any():
        worst = np.unravel_index(np.argmax(np.abs(got - want) - atol - RTOL * np.abs(want)), want.shape)
        errors.append(f"{what}: {int(bad.sum())}/{want.size} elements differ, e.g. at {tuple(int(i) for i in worst)}: "
                      f"{got[worst]!r} vs Caffe {want[worst]!r}")


def load(case_dir):
    with np.load(case_dir / "case.npz") as z:
        return {k: z[k] for k in z.files}


def build(case_dir, phase):
    net = caffe.Net(str(case_dir / "net.prototxt"), int(phase))
    if (case_dir / "weights.caffemodel").exists():
        net.copy_from(str(case_dir / "weights.caffemodel"))
    return net


def set_inputs(net, z):
    for key, value in z.items():
        if key.startswith("in/"):
            blob = net.blobs[key[3:]]
            if blob.shape != value.shape:
                blob.reshape(value.shape)
            blob.data[...] = value
    net.reshape()


def keys(z, prefix):
    return [(k[len(prefix):], v) for k, v in z.items() if k.startswith(prefix)]


def param(net, name):
    layer, k = name.rsplit("/", 1)
    return net.params[layer][int(k)]


def check_dropout_train(net, z, errors):
    """Any mask: y in {0, scale*x}; dx = scale*dy where kept, 0 elsewhere; kept ~ 1 - ratio."""
    x, y, scale = z["in/x"], net.blobs["y"].data, z["meta/scale"]
    kept = y != 0
    if not np.allclose(y[kept], scale * x[kept], rtol=1e-6):
        errors.append("dropout_train: kept outputs are not scale * x")
    net.blobs["y"].diff[...] = z["topdiff/y"]
    net.clear_param_diffs()
    net.backward()
    dx = net.blobs["x"].diff
    if not (np.allclose(dx[kept], scale * z["topdiff/y"][kept], rtol=1e-6) and not dx[~kept].any()):
        errors.append("dropout_train: input diff is not scale * topdiff on the kept elements, 0 elsewhere")
    fraction = kept.mean()
    if abs(fraction - (1 - z["meta/dropout_ratio"])) > 0.08:
        errors.append(f"dropout_train: kept fraction {fraction:.3f}, expected about {1 - z['meta/dropout_ratio']:.3f}")


def run_case(case_dir, gradient_atol=SCALE_ATOL):
    """The case's differences from Caffe, as lines; ``gradient_atol``: the absolute floor
    of diff/ and paramdiff/, in units of the blob's largest value (TIE_ATOL on the fast
    engine's nets)."""
    z = load(case_dir)
    net = build(case_dir, z["meta/phase"])
    set_inputs(net, z)
    net.forward()
    errors = []
    if case_dir.name == "dropout_train":
        check_dropout_train(net, z, errors)
        return errors
    for name, want in keys(z, "out/"):
        compare(errors, f"out/{name}", net.blobs[name].data, want)
    for name, want in keys(z, "paramafter/"):
        compare(errors, f"paramafter/{name}", param(net, name).data, want)
    for name, want in keys(z, "topdiff/"):
        blob = net.blobs[name]
        if net.blob_loss_weights[name]:
            compare(errors, f"topdiff/{name} (the loss weight Caffe puts in a loss top's diff)", blob.diff, want)
        else:
            blob.diff[...] = want
    backward = any(k.startswith(("indiff/", "diff/", "paramdiff/")) for k in z)
    if backward:
        net.clear_param_diffs()
        net.backward()
    for prefix in ("indiff/", "diff/"):
        for name, want in keys(z, prefix):
            compare(errors, f"{prefix}{name}", net.blobs[name].diff, want, gradient_atol)
    for name, want in keys(z, "paramdiff/"):
        compare(errors, f"paramdiff/{name}", param(net, name).diff, want, gradient_atol)
    test_outputs = keys(z, "test/out/")
    if test_outputs:
        test_net = build(case_dir, caffe.TEST)
        set_inputs(test_net, z)
        test_net.forward()
        for name, want in test_outputs:
            compare(errors, f"test/out/{name}", test_net.blobs[name].data, want)
    return errors


@pytest.mark.parametrize("case", case_names("layers"))
def test_layer_case(case):
    errors = run_case(need(CAFFE_REF / "layers" / case))
    assert not errors, f"{case}: differs from Caffe:\n" + "\n".join(errors)


@pytest.fixture(params=["CAFFE", "DEFAULT"])
def engine(request):
    """Every layer on Caffe's path, or each on its prototxt's (the fast engine here)."""
    from caffe_compat import engines

    engines.set_engine(request.param)
    yield request.param
    engines.set_engine(None)


@pytest.mark.parametrize("case", case_names("nets"))
def test_net_case(case, engine):
    errors = run_case(need(CAFFE_REF / "nets" / case), SCALE_ATOL if engine == "CAFFE" else TIE_ATOL)
    assert not errors, f"{case} (engine {engine}): differs from Caffe:\n" + "\n".join(errors)


@pytest.mark.parametrize("kind,case", [("layers", c) for c in case_names("layers")]
                         + [("nets", c) for c in case_names("nets")])
def test_save_writes_what_caffe_writes(kind, case, tmp_path):
    """net.save after copy_from gives Caffe's own caffemodel byte for byte: every layer (the
    inserted Splits too) with its phase, implicit loss_weight and blobs with shapes."""
    case_dir = need(CAFFE_REF / kind / case)
    with np.load(case_dir / "case.npz") as z:
        phase = int(z["meta/phase"])
    net = build(case_dir, phase)
    net.save(str(tmp_path / "saved.caffemodel"))
    assert (tmp_path / "saved.caffemodel").read_bytes() == (case_dir / "weights.caffemodel").read_bytes()


@pytest.mark.parametrize("model,weights", [("v1_deploy.prototxt", "v1_weights.caffemodel"),
                                           ("upgraded_deploy.prototxt", "upgraded_weights.caffemodel"),
                                           ("v1_deploy.prototxt", "upgraded_weights.caffemodel")])
def test_v1_net_and_legacy_weights(model, weights):
    """Old-format prototxt (net-level input_dim, V1 layers) and caffemodels (V1 layers, legacy
    4-D blob dims): the parameters land in their current shapes and forward equals Caffe's."""
    folder = need(CAFFE_REF / "formats" / "v1_net")
    with np.load(folder / "expected.npz") as f:
        z = {k: f[k] for k in f.files}
    net = caffe.Net(str(folder / model), str(folder / weights), caffe.TEST)
    assert net.inputs == ["data"]
    errors = []
    for name, want in keys(z, "param/"):
        compare(errors, f"param/{name}", param(net, name).data, want)
    out = net.forward(data=z["in/data"])
    assert list(out) == ["prob"]
    for name, want in keys(z, "out/"):
        compare(errors, f"out/{name}", net.blobs[name].data, want)
    assert not errors, "\n".join(errors)
