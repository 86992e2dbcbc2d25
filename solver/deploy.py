"""Building a net for inference from a model file: Data layers swapped for Input layers."""
import os

import caffe_compat as caffe
from caffe_compat.errors import CaffeError
from prototxt import read_net
from prototxt.netedit import DATA_LAYER_TYPES, data_shape_of, swap_data_for_input


def parse_shape(text):
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d)
    except ValueError:
        raise CaffeError(f"bad --input-shape {text!r}: expected C,H,W such as 1,28,28") from None
    if len(dims) != 3 or min(dims) <= 0:
        raise CaffeError(f"bad --input-shape {text!r}: expected three positive numbers C,H,W")
    return dims


def load_test_net(model, weights=None, batch=None, sample_shape=None):
    """TEST-phase Net of ``model``; data layers whose source is unreadable become Inputs."""
    param = read_net(model)
    data_layers = [l for l in param.layer if l.type in DATA_LAYER_TYPES]
    needs_swap = batch is not None or sample_shape is not None or any(
        l.type in ("Data", "ImageData") and not os.path.exists(
            l.data_param.source if l.type == "Data" else l.image_data_param.source)
        for l in data_layers)
    if data_layers and needs_swap:
        shape = sample_shape or next((data_shape_of(l) for l in data_layers if data_shape_of(l)), None)
        if shape is None:
            raise CaffeError(f"{model}: the data source is not readable here; give the input "
                             "shape (--input-shape C,H,W)")
        param = swap_data_for_input(param, shape, batch=batch, phase=caffe.TEST)
    net = caffe.Net(param, caffe.TEST)
    if weights:
        for w in weights.split(","):
            net.copy_from(w)
    return net
