"""SigmoidCrossEntropyLoss (Caffe 1.0): fixtures, normalizations, ignore_label, errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError, NetError
from gradcheck import check_gradient, layer_from_text
from layer_case import compare_case


def sce(loss_param=""):
    lp = f"loss_param {{ {loss_param} }}" if loss_param else ""
    return layer_from_text(
        f'name: "ts_loss" type: "SigmoidCrossEntropyLoss" bottom: "x" bottom: "t" top: "loss" {lp}')


def run(lyr, x, t):
    bottom = [Blob(x.shape, dtype=x.dtype), Blob(t.shape, dtype=x.dtype)]
    bottom[0].data[...] = x
    bottom[1].data[...] = t
    top = [Blob((), dtype=x.dtype)]
    lyr.setup(bottom, top)
    lyr.reshape(bottom, top)
    lyr.forward(bottom, top)
    return bottom, top


def reference_loss(x, t, ignore, mode):
    """-t*log(s) - (1-t)*log(1-s), s = sigmoid(x), summed over non-ignored elements."""
    s = 1 / (1 + np.exp(-x))
    terms = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    valid = np.ones(x.shape, bool) if ignore is None else (t != ignore)
    norm = {"VALID": valid.sum(), "FULL": x.size, "BATCH_SIZE": x.shape[0], "NONE": 1}[mode]
    return terms[valid].sum() / max(norm, 1)


@pytest.mark.parametrize("case", ["sce_logits", "sce_probs", "sce_softmax_chain",
                                  "sce_valid_ignore"])
def test_matches_caffe(case):
    compare_case(case)


def data(shape, ignore=None, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(0, 2, shape)
    t = g.uniform(0, 1, shape)
    if ignore is not None:
        t.reshape(-1)[::4] = ignore
    return x, t


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 2)])
@pytest.mark.parametrize("loss_param,mode,ignore", [
    ("", "BATCH_SIZE", None),  # Caffe 1.0's default when nothing is set
    ("normalization: VALID", "VALID", None),
    ("normalization: VALID ignore_label: -1", "VALID", -1),
    ("normalization: FULL ignore_label: -1", "FULL", -1),
    ("normalization: BATCH_SIZE ignore_label: -1", "BATCH_SIZE", -1),
    ("normalization: NONE", "NONE", None),
    ("normalize: true ignore_label: -1", "VALID", -1),
    ("normalize: false", "BATCH_SIZE", None),
])
def test_value_and_gradient(shape, loss_param, mode, ignore):
    x, t = data(shape, ignore)
    _, top = run(sce(loss_param), x, t)
    assert float(top[0].data) == pytest.approx(reference_loss(x, t, ignore, mode), rel=1e-10)
    check_gradient(sce(loss_param), [x, t], check_bottom=[0])


def test_gradient_formula_and_ignored_zero():
    x, t = data((3, 4), ignore=-1)
    lyr = sce("ignore_label: -1 normalization: VALID")
    bottom, top = run(lyr, x, t)
    top[0].diff[...] = 0.5
    lyr.backward(top, [True, False], bottom)
    valid = t != -1
    want = np.where(valid, (1 / (1 + np.exp(-x)) - t) * 0.5 / valid.sum(), 0)
    np.testing.assert_allclose(bottom[0].diff, want, rtol=1e-12, atol=1e-15)


def test_extreme_logits_are_stable():
    x = np.float32([[-100.0, 100.0, 0.0]])
    _, top = run(sce(), x, np.float32([[0.0, 1.0, 0.5]]))
    assert float(top[0].data) == pytest.approx(np.log(2), rel=1e-6)


def test_count_mismatch():
    with pytest.raises(LayerSetupError) as err:
        run(sce(), np.zeros((4, 5)), np.zeros((4, 4)))
    msg = str(err.value)
    assert "number of labels must match number of predictions" in msg
    assert "'ts_loss'" in msg and "4 5 (20)" in msg and "4 4 (16)" in msg


def test_no_gradient_into_targets():
    lyr = sce()
    assert not lyr.allow_force_backward(1)
    bottom, top = run(lyr, *data((2, 3)))
    top[0].diff[...] = 1
    with pytest.raises(NetError, match="'ts_loss'.*can't backpropagate to label inputs"):
        lyr.backward(top, [True, True], bottom)
