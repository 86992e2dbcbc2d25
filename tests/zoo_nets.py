"""The published nets of tests/data/zoo and how both sides run them (see SOURCES.md there).

``NETS``: name -> how the recorder (tests/tools/record_real_caffe_zoo.py, real Caffe 1.0)
and tests/test_zoo_nets.py (caffe_compat) run the stored prototxt: its phase, the input
kinds (gaussian by default, ``("labels", k)``, ``("uniform",)``), and the shapes of the
Input layers that replace its data layers (Data, Python). ``run_param`` makes the net both
sides build: batch 1, force_backward, data layers swapped for Input layers. It edits the
message, not the text, and leaves legacy ``input:`` fields and Input layers in place
(real Caffe upgrades them itself), so the stored files stay as published.
"""
import os
import re

from google.protobuf import text_format

ZOO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "zoo")
TRAIN, TEST = "TRAIN", "TEST"


def _net(phase=TEST, data=None, inputs=None, size=None, file=None, drop=()):
    """``data``: {data layer name: {top: shape}}; ``inputs``: {blob: kind};
    ``size``: (h, w) for a fully convolutional net run at a smaller size than published;
    ``file``: the stored net when another entry runs it too; ``drop``: fields (of a fork
    of Caffe) whose lines are left out before parsing."""
    return {"phase": phase, "data": data or {}, "inputs": inputs or {}, "size": size,
            "file": file, "drop": tuple(drop)}


NETS = {
    "lenet": _net(),
    "cifar10_quick": _net(),
    "cifar10_full": _net(),
    "mnist_siamese": _net(),
    "mnist_autoencoder": _net(TRAIN, data={"data": {"data": [1, 1, 28, 28]}},
                              inputs={"data": ("uniform",)}),
    "mnist_siamese_train_test": _net(TRAIN, data={"pair_data": {"pair_data": [1, 2, 28, 28],
                                                                "sim": [1]}},
                                     inputs={"sim": ("labels", 2)}),
    "alexnet": _net(),
    "caffenet": _net(),
    "caffenet_v0": _net(),  # V0 format (tests/data/zoo/caffenet_v0.prototxt): upgraded on reading
    "rcnn_ilsvrc13": _net(),
    "flickr_style": _net(),
    "caffenet_full_conv": _net(),
    "googlenet": _net(),
    "vgg16": _net(),
    "vgg19": _net(),
    "resnet50": _net(),
    "resnet101": _net(),
    "resnet152": _net(),
    # soeaver's ResNeXt and DenseNet set `ceil_mode: false` (a field of their Caffe fork):
    # real Caffe 1.0 refuses them as published (the *_published entries), and runs them
    # without that line (its pooling then rounds up, as Caffe 1.0 always does).
    "resnext50": _net(drop=("ceil_mode",)),
    "resnext50_published": _net(file="resnext50"),
    "squeezenet_v1.0": _net(),
    "squeezenet_v1.1": _net(),
    "mobilenet_v1": _net(),
    "mobilenet_v2": _net(),
    "densenet121": _net(drop=("ceil_mode",)),
    "densenet121_published": _net(file="densenet121"),
    "inception_bn": _net(),
    "inception_v3": _net(),
    "inception_resnet_v2": _net(),
    "xception": _net(),
    # FCNs are fully convolutional (pad 100 on conv1_1): a 64x64 image instead of 500x500
    "fcn8s": _net(size=(64, 64)),
    "fcn32s": _net(data={"data": {"data": [1, 3, 64, 64], "label": [1, 1, 64, 64]}},
                   inputs={"label": ("labels", 21)}),
    "mtcnn_pnet": _net(),
    "mtcnn_rnet": _net(),
    "mtcnn_onet": _net(),
    "mtcnn_lnet": _net(),
    "sphereface20": _net(),
}


def prototxt_path(name):
    return os.path.join(ZOO, (NETS[name]["file"] or name) + ".prototxt")


def source_text(name):
    """The stored text, less the lines of the fields NETS[name] drops."""
    with open(prototxt_path(name), encoding="utf-8") as f:
        text = f.read()
    for field in NETS[name]["drop"]:
        text = re.sub(rf"^\s*{field}\s*:.*$", "", text, flags=re.M)
    return text


def _pb2():
    from caffe_compat.proto import caffe_pb2

    return caffe_pb2


def _resize(dims, size):
    dims[0] = 1
    if size is not None and len(dims) == 4:
        dims[2], dims[3] = size


def run_param(name):
    """The NetParameter both sides build for zoo net ``name`` (not upgraded)."""
    caffe_pb2 = _pb2()
    spec = NETS[name]
    param = caffe_pb2.NetParameter()
    text_format.Parse(source_text(name), param)
    param.force_backward = True
    if param.input_dim:
        dims = list(param.input_dim)
        for k in range(0, len(dims), 4):
            sub = dims[k:k + 4]
            _resize(sub, spec["size"])
            dims[k:k + 4] = sub
        del param.input_dim[:]
        param.input_dim.extend(dims)
    for shape in param.input_shape:
        dims = list(shape.dim)
        _resize(dims, spec["size"])
        del shape.dim[:]
        shape.dim.extend(dims)
    kept = []
    for layer in param.layer:
        if layer.type == "Input":
            for shape in layer.input_param.shape:
                dims = list(shape.dim)
                _resize(dims, spec["size"])
                del shape.dim[:]
                shape.dim.extend(dims)
        if layer.name in spec["data"]:
            if layer.include and not any(rule.phase == caffe_pb2.Phase.Value(spec["phase"])
                                         for rule in layer.include):
                continue  # the other phase's data layer
            tops = spec["data"][layer.name]
            new = caffe_pb2.LayerParameter(name=layer.name, type="Input", top=list(layer.top))
            for top in layer.top:
                new.input_param.shape.add().dim.extend(tops[top])
            layer = new
        kept.append(layer)
    del param.layer[:]
    param.layer.extend(kept)
    return param


def run_text(name):
    return text_format.MessageToString(run_param(name))


def param_key(layer, index):
    """The seed key of a layer's parameter blob: its share name when it has one."""
    if index < len(layer.param) and layer.param[index].name:
        return "shared:" + layer.param[index].name
    return f"{layer.name}/{index}"


def layer_params_by_name(param):
    """{layer name: LayerParameter} of the run net; V1 and V0 layers (whose parameters
    are never shared in these nets) as bare LayerParameters with their name."""
    layers = {layer.name: layer for layer in param.layer}
    pb2 = _pb2()
    for old in param.layers:
        name = old.layer.name if old.HasField("layer") else old.name
        layers[name] = pb2.LayerParameter(name=name)
    return layers
