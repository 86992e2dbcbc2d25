"""Every net real Caffe 1.0 refuses among tests/data/real_caffe_layers/complex_errors.json
(recorded by tests/tools/record_real_caffe_complex_layers.py: Deconvolution, Embed, SPP, the
losses, HDF5Data/HDF5Output, WindowData) is refused here too, at the same step (building,
a Forward, or Backward), with an error that names the layer."""
import json

import numpy as np
import pytest
from google.protobuf import text_format

from caffe_compat.errors import CaffeError
from caffe_compat.net import Net
from caffe_compat.proto import caffe_pb2
from real_caffe_layers import DATA

ERRORS = json.loads((DATA / "complex_errors.json").read_text())

# The layer each refusal is about (named in our message).
LAYER = {"deconv": "deconv", "embed": "embed", "spp": "spp", "infogain": "loss", "contrastive": "loss",
         "multinomial": "loss", "hdf5": "h5", "window": "win"}


def test_cases_recorded():
    assert len(ERRORS) >= 15


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_refused_as_in_caffe(tmp_path, name):
    entry = ERRORS[name]
    (tmp_path / "empty.txt").write_text("")
    text = f'name: "{name}"\n' + entry["net"].replace("TMP/", f"{tmp_path}/")
    param = text_format.Parse(text, caffe_pb2.NetParameter())
    layer = "out" if name.startswith("hdf5_output") else LAYER[name.split("_")[0]]
    run = entry["run"]
    if run == "build":
        with pytest.raises(CaffeError, match=f"'{layer}'") as err:
            Net(param, 1)
    else:
        # Every step before the one Caffe failed at must pass here too.
        net = Net(param, 1)
        for blob, values in entry.get("feed", {}).items():
            net.blobs[blob].data[...] = np.asarray(values, np.float32)
        steps = [net.forward, net.backward] if run == "backward" else [net.forward] * int(run[len("forward"):])
        for step in steps[:-1]:
            step()
        with pytest.raises(CaffeError, match=f"'{layer}'") as err:
            steps[-1]()
    assert str(err.value)
