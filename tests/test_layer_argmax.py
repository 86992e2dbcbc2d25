"""ArgMax: values worked out by hand (Caffe's tie order: the higher index first), shapes,
and the top_k errors."""
import numpy as np
import pytest

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from gradcheck import layer_from_text, make_blobs


def _run(param, x, name="am"):
    layer = layer_from_text(f'name: "{name}" type: "ArgMax" argmax_param {{ {param} }}')
    bottom = make_blobs([np.asarray(x, dtype=float)])
    top = [Blob((), dtype=np.float64)]
    layer.check_blob_counts(bottom, top)
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    return top[0].data


X = [[0.5, 3.0, 3.0, -1.0, 2.0],
     [4.0, 1.0, 1.0, 1.0, 0.0]]


def test_top1_default():
    out = _run("", X)
    assert out.shape == (2, 1, 1)
    np.testing.assert_array_equal(out.ravel(), [2, 0])  # tie 3.0 at 1 and 2: index 2


def test_topk_with_values():
    out = _run("top_k: 3 out_max_val: true", X)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0], [[2, 1, 4], [3.0, 3.0, 2.0]])
    np.testing.assert_array_equal(out[1], [[0, 3, 2], [4.0, 1.0, 1.0]])


def test_flattens_per_sample():
    x = np.arange(24.0).reshape(2, 3, 4)
    x[1, 0, 0] = 100.0
    out = _run("top_k: 2", x)
    assert out.shape == (2, 1, 2)
    np.testing.assert_array_equal(out[:, 0, :], [[11, 10], [0, 11]])


def test_axis():
    x = np.array([[[1.0, 5.0], [3.0, 5.0], [2.0, 0.0]]])  # (1, 3, 2)
    out = _run("axis: 1 top_k: 2", x)
    assert out.shape == (1, 2, 2)
    np.testing.assert_array_equal(out[0], [[1, 1], [2, 0]])
    vals = _run("axis: -2 top_k: 2 out_max_val: true", x)
    np.testing.assert_array_equal(vals[0], [[3.0, 5.0], [2.0, 5.0]])


def test_no_backward():
    layer = layer_from_text('name: "am" type: "ArgMax"')
    assert not layer.has_backward()


@pytest.mark.parametrize("param, shape, pattern", [
    ("top_k: 6", (2, 5), "number of classes \\(5\\)"),
    ("top_k: 4 axis: 1", (2, 3, 7), "dimension of axis 1 \\(3\\)"),
    ("top_k: 0", (2, 5), "less than 1"),
    ("axis: 3", (2, 5), "out of range"),
])
def test_errors(param, shape, pattern):
    with pytest.raises(LayerSetupError, match=pattern) as e:
        _run(param, np.zeros(shape), name="pick")
    assert "'pick'" in str(e.value)
