"""SoftmaxWithLoss: Caffe's numbers for each normalization, gradients, errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import CaffeError, LayerSetupError, NetError
from gradcheck import check_gradient, layer_from_text
from layer_case import compare_case


def swl(loss_param="", extra=""):
    lp = f"loss_param {{ {loss_param} }}" if loss_param else ""
    return layer_from_text(
        f'name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "label" top: "loss" {lp} {extra}')


def run(lyr, x, label, ntop=1):
    bottom = [Blob(x.shape, dtype=x.dtype), Blob(label.shape, dtype=x.dtype)]
    bottom[0].data[...] = x
    bottom[1].data[...] = label
    top = [Blob((), dtype=x.dtype) for _ in range(ntop)]
    lyr.check_blob_counts(bottom, top)
    lyr.setup(bottom, top)
    lyr.reshape(bottom, top)
    lyr.forward(bottom, top)
    return bottom, top


def reference_loss(x, label, ignore, mode):
    """Plain loops over (n, c, spatial), axis 1."""
    n_, c_ = x.shape[:2]
    xs = x.reshape(n_, c_, -1)
    ls = label.reshape(n_, -1)
    total, valid = 0.0, 0
    for n in range(n_):
        for i in range(xs.shape[2]):
            if ls[n, i] == ignore:
                continue
            col = xs[n, :, i]
            total -= col[int(ls[n, i])] - col.max() - np.log(np.exp(col - col.max()).sum())
            valid += 1
    norm = {"VALID": valid, "FULL": n_ * xs.shape[2], "BATCH_SIZE": n_, "NONE": 1}[mode]
    return total / max(norm, 1)


@pytest.mark.parametrize("case", ["swl_basic", "swl_valid_ignore", "swl_batch_size",
                                  "swl_none", "swl_full"])
def test_matches_caffe(case):
    compare_case(case)


MODES = ["VALID", "FULL", "BATCH_SIZE", "NONE"]


def data(shape, ignore=None, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(0, 2, shape)
    label_shape = (shape[0],) + shape[2:]
    label = g.integers(0, shape[1], label_shape).astype(np.float64)
    if ignore is not None:
        label.reshape(-1)[::3] = ignore
    return x, label


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 2, 3)])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ignore", [None, 255])
def test_value_and_gradient(shape, mode, ignore):
    loss_param = f"normalization: {mode}" + ("" if ignore is None else f" ignore_label: {ignore}")
    x, label = data(shape, ignore)
    _, top = run(swl(loss_param), x, label)
    assert float(top[0].data) == pytest.approx(reference_loss(x, label, ignore, mode), rel=1e-12)
    check_gradient(swl(loss_param), [x, label], check_bottom=[0])


@pytest.mark.parametrize("normalize,mode", [("true", "VALID"), ("false", "BATCH_SIZE")])
def test_legacy_normalize(normalize, mode):
    x, label = data((2, 4, 3), ignore=7)
    _, top = run(swl(f"normalize: {normalize} ignore_label: 7"), x, label)
    assert float(top[0].data) == pytest.approx(reference_loss(x, label, 7, mode), rel=1e-12)
    # An explicit normalization wins over the legacy field.
    _, top = run(swl(f"normalize: {normalize} normalization: NONE ignore_label: 7"), x, label)
    assert float(top[0].data) == pytest.approx(reference_loss(x, label, 7, "NONE"), rel=1e-12)


def test_all_ignored_gives_zero_not_nan():
    x, label = data((3, 4))
    label[:] = 255
    bottom, top = run(swl("ignore_label: 255"), x, label)
    assert float(top[0].data) == 0.0
    top[0].diff[...] = 1
    swl_layer = swl("ignore_label: 255")
    bottom, top = run(swl_layer, x, label)
    top[0].diff[...] = 1
    swl_layer.backward(top, [True, False], bottom)
    assert np.all(bottom[0].diff == 0)


def test_tiny_probability_is_clamped():
    x = np.float32([[0.0, -200.0]])
    _, top = run(swl(), x, np.float32([1]))
    assert float(top[0].data) == pytest.approx(-np.log(np.finfo(np.float32).tiny), rel=1e-6)


def test_axis_and_second_top():
    x, _ = data((3, 2, 4))
    label = np.random.default_rng(1).integers(0, 4, (3, 2)).astype(np.float64)
    lyr = swl(extra="top: \"prob\" softmax_param { axis: 2 }")
    _, top = run(lyr, x, label, ntop=2)
    e = np.exp(x - x.max(axis=2, keepdims=True))
    prob = e / e.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(top[1].data, prob, rtol=1e-12)
    want = -np.mean([np.log(prob[i, j, int(label[i, j])]) for i in range(3) for j in range(2)])
    assert float(top[0].data) == pytest.approx(want, rel=1e-12)
    check_gradient(swl(extra="softmax_param { axis: 2 }"), [x, label], check_bottom=[0])


def test_label_count_mismatch():
    with pytest.raises(LayerSetupError) as err:
        run(swl(), np.zeros((4, 5)), np.zeros((4, 2)))
    msg = str(err.value)
    assert "number of labels must match number of predictions" in msg
    assert "'loss'" in msg and "4 5 (20)" in msg and "4 2 (8)" in msg


def test_label_out_of_range():
    with pytest.raises(LayerSetupError, match=r"'loss'.*label value 5 out of range"):
        run(swl(), np.zeros((2, 5)), np.float32([1, 5]))
    with pytest.raises(LayerSetupError, match="out of range"):
        run(swl(), np.zeros((2, 5)), np.float32([-1, 0]))
    run(swl("ignore_label: -1"), np.zeros((2, 5)), np.float32([-1, 0]))  # ignored: fine


def test_no_gradient_into_label():
    lyr = swl()
    assert lyr.allow_force_backward(0) and not lyr.allow_force_backward(1)
    bottom, top = run(lyr, *data((2, 3)))
    top[0].diff[...] = 1
    with pytest.raises(NetError, match="'loss'.*can't backpropagate to label inputs"):
        lyr.backward(top, [True, True], bottom)
    assert issubclass(NetError, CaffeError)
