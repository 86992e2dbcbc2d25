"""What the tests of tests/data/real_caffe_layers share (besides layer_case.compare_recorded):
our Net on a recorded case, ONNX parity of its export, and the nets Caffe refused to build
(tests/data/real_caffe_layers/errors.json, recorded by tests/tools/record_real_caffe_layers.py).
"""
import json

import numpy as np
import pytest

import caffe_compat as caffe
from caffe_compat.errors import CaffeError
from layer_case import RECORDED
from real_caffe_layers import run_case


def recorded_net(name):
    """Our Net built from the case's prototxt, with its inputs and parameters, after Forward."""
    return run_case(name, backward=False)


def assert_onnx_parity(name, outputs, tmp_path):
    """onnxruntime on the export of the recorded net equals our forward (1e-5 relative)."""
    import onnxruntime as ort

    from caffe_compat.onnx_export import export_onnx

    net, _ = recorded_net(name)
    path = tmp_path / f"{name}.onnx"
    model = export_onnx(net, str(path), outputs=outputs)
    feeds = {i.name: net.blobs[i.name].data.astype(np.float32) for i in model.graph.input}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip(outputs, sess.run(outputs, feeds)))
    for blob, value in got.items():
        ref = net.blobs[blob].data
        assert value.shape == ref.shape, (blob, value.shape, ref.shape)
        np.testing.assert_allclose(value, ref, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(ref).max()),
                                   err_msg=f"{name} {blob}")
    return model


def assert_export_refused(name, output, layer_name, type_name, tmp_path):
    """Exporting the recorded net fails with an error naming the layer and its type."""
    from caffe_compat.onnx_export import ExportError, export_onnx

    net, _ = recorded_net(name)
    with pytest.raises(ExportError) as e:
        export_onnx(net, str(tmp_path / "x.onnx"), outputs=[output])
    assert f"'{layer_name}'" in str(e.value) and type_name in str(e.value), str(e.value)
    return str(e.value)


def caffe_refusals(prefix):
    """Names of the recorded refusals starting with ``prefix``."""
    errors = json.loads((RECORDED / "errors.json").read_text())
    return sorted(n for n in errors if n.startswith(prefix))


def assert_refused_like_caffe(name, tmp_path):
    """Our Net refuses the net Caffe refused (its recorded message), with a clear error
    naming the layer; returns (our message, Caffe's message)."""
    entry = json.loads((RECORDED / "errors.json").read_text())[name]
    path = tmp_path / f"{name}.prototxt"
    path.write_text(f'name: "{name}"\n{entry["net"]}\n')
    with pytest.raises(CaffeError) as e:
        net = caffe.Net(str(path), caffe.TEST)
        if "feed" in entry:  # refused while running
            for blob, values in entry["feed"].items():
                net.blobs[blob].data[...] = values
            net.forward()
            net.backward()
    return str(e.value), entry["message"]
