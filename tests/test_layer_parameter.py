"""Parameter: Caffe's numbers (a (2, 3) blob added to an input), zero start, a top that shares
the blob's data and diff (so the gradient lands in the parameter), training it through the
solver's update, ONNX (a constant)."""
import numpy as np

from gradcheck import layer_from_text
from layer_case import compare_recorded
from recorded_layers import assert_onnx_parity, recorded_net


def test_matches_caffe():
    compare_recorded("parameter")


def test_zero_start_and_shared_top():
    layer = layer_from_text('name: "p" type: "Parameter" parameter_param { shape { dim: 2 dim: 3 } }')
    from caffe_compat.blob import Blob

    top = [Blob()]
    layer.check_blob_counts([], top)
    layer.setup([], top)
    assert layer.blobs[0].shape == top[0].shape == (2, 3) and not layer.blobs[0].data.any()
    layer.blobs[0].data[...] = 4
    layer.reshape([], top)
    layer.forward([], top)
    np.testing.assert_array_equal(top[0].data, 4)
    top[0].diff[...] = 1.5  # what the layer above writes is the parameter's gradient
    layer.backward(top, [], [])
    np.testing.assert_array_equal(layer.blobs[0].diff, 1.5)


def test_net_backward_and_update():
    net, arrays = recorded_net("parameter")
    net.blobs["y"].diff[...] = arrays["topdiff/y"]
    net.backward()
    np.testing.assert_allclose(net.params["p"][0].diff, arrays["paramdiff/p/0"], rtol=1e-6)
    before = net.params["p"][0].data.copy()
    net.params["p"][0].data[...] -= 0.1 * net.params["p"][0].diff
    net.forward()
    np.testing.assert_allclose(net.blobs["w"].data, before - 0.1 * arrays["paramdiff/p/0"],
                               rtol=1e-6)


def test_onnx(tmp_path):
    assert_onnx_parity("parameter", ["y"], tmp_path)


def test_registered():
    from caffe_compat.layer_types import layer_types

    assert "Parameter" in layer_types()
