"""Accuracy: Caffe's numbers (with exact ties), top_k, ignore_label, per-class top, errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from gradcheck import layer_from_text
from layer_case import compare_case


def accuracy(params="", per_class=False):
    tops = 'top: "acc"' + (' top: "per_class"' if per_class else "")
    p = f"accuracy_param {{ {params} }}" if params else ""
    return layer_from_text(f'name: "acc" type: "Accuracy" bottom: "x" bottom: "label" {tops} {p}')


def run(lyr, x, label, ntop=1):
    bottom = [Blob(np.shape(x)), Blob(np.shape(label))]
    bottom[0].data[...], bottom[1].data[...] = x, label
    top = [Blob(()) for _ in range(ntop)]
    lyr.check_blob_counts(bottom, top)
    lyr.setup(bottom, top)
    lyr.reshape(bottom, top)
    lyr.forward(bottom, top)
    return top


@pytest.mark.parametrize("case", ["accuracy_top1", "accuracy_top5"])
def test_matches_caffe(case):
    compare_case(case, backward=False)


def test_ties_count_against_the_true_class():
    # Caffe 1.0 counts every class scoring >= the true class (accuracy_top1 confirms it).
    x = [[1.0, 1.0, 0.0], [0.0, 2.0, 1.0], [3.0, 1.0, 3.0]]
    assert float(run(accuracy(), x, [0, 1, 2])[0].data) == pytest.approx(1 / 3)
    assert float(run(accuracy("top_k: 2"), x, [0, 1, 2])[0].data) == pytest.approx(1.0)


def test_top_k_and_ignore_and_per_class():
    x = [[0.1, 0.5, 0.4, 0.0],
         [0.7, 0.1, 0.1, 0.1],
         [0.2, 0.3, 0.4, 0.1],
         [0.9, 0.02, 0.05, 0.03],
         [0.1, 0.2, 0.3, 0.4]]
    label = [2, 0, 0, 1, 3]
    top = run(accuracy("top_k: 2 ignore_label: 3", per_class=True), x, label, ntop=2)
    # counted rows 0..3: row0 (2 in top2) yes, row1 yes, row2 (0 ranks 3rd) no, row3 no.
    assert float(top[0].data) == pytest.approx(0.5)
    # class 0: 1 of 2, class 1: 0 of 1, class 2: 1 of 1, class 3: ignored -> no samples -> 0
    np.testing.assert_allclose(top[1].data, [0.5, 0.0, 1.0, 0.0])
    assert top[0].shape == () and top[1].shape == (4,)


def test_axis_and_spatial_positions():
    g = np.random.default_rng(0)
    x = g.normal(size=(2, 3, 5))  # classes on axis 2
    label = g.integers(0, 5, (2, 3))
    want = (x.argmax(axis=2) == label).mean()
    assert float(run(accuracy("axis: 2"), x, label)[0].data) == pytest.approx(want, rel=1e-6)


def test_everything_ignored_gives_zero():
    assert float(run(accuracy("ignore_label: 1"), [[0.0, 1.0]], [1])[0].data) == 0.0


def test_no_backward_into_label():
    lyr = accuracy()
    assert not lyr.allow_force_backward(0) and not lyr.allow_force_backward(1)
    assert not lyr.has_backward()


def test_label_count_mismatch():
    with pytest.raises(LayerSetupError) as err:
        run(accuracy(), np.zeros((4, 3)), np.zeros(3))
    msg = str(err.value)
    assert "number of labels must match number of predictions" in msg
    assert "'acc'" in msg and "4 3 (12)" in msg and "3 (3)" in msg


def test_top_k_larger_than_classes():
    with pytest.raises(LayerSetupError, match="top_k"):
        run(accuracy("top_k: 4"), np.zeros((2, 3)), np.zeros(2))


def test_label_out_of_range():
    with pytest.raises(LayerSetupError, match="label value 3 out of range"):
        run(accuracy(), np.zeros((2, 3)), [0, 3])
