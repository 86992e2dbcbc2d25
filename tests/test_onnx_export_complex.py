"""export-onnx of the layer types recorded in tests/data/real_caffe_layers: Deconvolution
(ConvTranspose) and Embed (Gather) run in onnxruntime equal to real Caffe 1.0's forward; the
types ONNX cannot express are a clear error naming the layer."""
import numpy as np
import onnxruntime as ort
import pytest

from caffe_compat.onnx_export import ExportError, export_onnx
from real_caffe_layers import case_names, run_case

EXPORTED = case_names("deconv_") + case_names("embed_")


def run_onnx(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def test_cases_exist():
    assert len(EXPORTED) >= 5


@pytest.mark.parametrize("case", EXPORTED)
def test_onnxruntime_equals_caffe(case):
    net, arrays = run_case(case, backward=False)
    model = export_onnx(net, outputs=["y"])
    feeds = {i.name: arrays[f"in/{i.name}"] for i in model.graph.input}
    got = run_onnx(model, feeds)["y"]
    want = arrays["out/y"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("case,output,layer", [
    ("spp_max3", "y", "spp"),
    ("contrastive", "loss", "loss"),
    ("hinge_l1", "loss", "loss"),
    ("infogain_source_axis", "loss", "loss"),
    ("multinomial_logistic", "loss", "loss"),
])
def test_unexportable_types_name_the_layer(case, output, layer):
    net, _ = run_case(case, backward=False)
    with pytest.raises(ExportError, match=f"Layer '{layer}'"):
        export_onnx(net, outputs=[output])
