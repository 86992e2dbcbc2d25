"""Message-level upgrades of legacy nets and solvers, as Caffe 1.0's upgrade_proto does them.

Caffe upgrades a NetParameter in this order (UpgradeNetAsNeeded):

1. V0 layers (``layers { layer { ... } }``) become V1 layers, padding layers folded into
   the convolution or pooling that reads them (caffe_compat/upgrade_v0.py).
2. V1 data-layer transformation fields (``scale``, ``mean_file``, ``crop_size``,
   ``mirror`` inside ``data_param`` / ``image_data_param`` / ``window_data_param`` of
   DATA, IMAGE_DATA and WINDOW_DATA layers) move into ``transform_param``.
3. V1 ``layers`` (V1LayerParameter) become ``layer`` (LayerParameter): the type enum
   becomes a type string, ``blobs_lr`` -> ``param.lr_mult``, ``weight_decay`` ->
   ``param.decay_mult``, ``param`` (names) -> ``param.name``, ``blob_share_mode`` ->
   ``param.share_mode``; bottoms, tops, include/exclude, loss weights, blobs and every
   ``*_param`` message are copied.
4. Net-level ``input`` / ``input_dim`` / ``input_shape`` become a first layer named
   "input" of type "Input" (a caffemodel with ``input`` but no dims just drops them).
5. BatchNorm layers declaring exactly three ``param`` get lr_mult and decay_mult 0 for each
   (other ParamSpec fields, e.g. sharing names, stay).

Binary caffemodels go through the same steps: blobs travel with their layer and keep
their legacy num/channels/height/width dims (Caffe's upgrade_net_proto_binary does not
reshape them; loading accepts them when the legacy dims match).

A SolverParameter's ``solver_type`` enum becomes the ``type`` string.
"""
import logging

from .errors import CaffeError
from .proto import caffe_pb2

log = logging.getLogger("caffe_compat.upgrade")


class UpgradeError(CaffeError):
    """A legacy file cannot be upgraded (conflicting fields...)."""


V1_TYPE_NAMES = {
    "NONE": "",
    "ABSVAL": "AbsVal",
    "ACCURACY": "Accuracy",
    "ARGMAX": "ArgMax",
    "BNLL": "BNLL",
    "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss",
    "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution",
    "DATA": "Data",
    "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss",
    "ELTWISE": "Eltwise",
    "EXP": "Exp",
    "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data",
    "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss",
    "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss",
    "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN",
    "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN",
    "POOLING": "Pooling",
    "POWER": "Power",
    "RELU": "ReLU",
    "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence",
    "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss",
    "SPLIT": "Split",
    "SLICE": "Slice",
    "TANH": "TanH",
    "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold",
}

SOLVER_TYPE_NAMES = {
    "SGD": "SGD",
    "NESTEROV": "Nesterov",
    "ADAGRAD": "AdaGrad",
    "RMSPROP": "RMSProp",
    "ADADELTA": "AdaDelta",
    "ADAM": "Adam",
}

# V1 data layers whose own parameter message carried the transformation fields.
_DATA_TRANSFORM_PARAMS = {
    "DATA": "data_param",
    "IMAGE_DATA": "image_data_param",
    "WINDOW_DATA": "window_data_param",
}
_TRANSFORM_FIELDS = ("scale", "mean_file", "crop_size", "mirror")

_V1 = caffe_pb2.V1LayerParameter


def v1_type_name(type_enum):
    """The LayerParameter type string of a V1 layer type enum value."""
    enum_name = _V1.LayerType.Name(type_enum)
    return V1_TYPE_NAMES[enum_name]


# ---------------------------------------------------------------------------- checks

def net_needs_v0_upgrade(net):
    return any(layer.HasField("layer") for layer in net.layers)


def _v1_data_params(net):
    """(layer, its data parameter message) of each V1 data layer (DATA, IMAGE_DATA, ...)."""
    for layer in net.layers:
        field = _DATA_TRANSFORM_PARAMS.get(_V1.LayerType.Name(layer.type))
        if field is not None:
            yield layer, getattr(layer, field)


def net_needs_data_upgrade(net):
    return any(param.HasField(f) for _, param in _v1_data_params(net) for f in _TRANSFORM_FIELDS)


def net_needs_v1_upgrade(net):
    return len(net.layers) > 0


def net_needs_input_upgrade(net):
    return len(net.input) > 0


def net_needs_batchnorm_upgrade(net):
    return any(layer.type == "BatchNorm" and len(layer.param) == 3 for layer in net.layer)


def net_needs_upgrade(net):
    """True if any of Caffe's net upgrades would change ``net``."""
    return (net_needs_v0_upgrade(net) or net_needs_data_upgrade(net)
            or net_needs_v1_upgrade(net) or net_needs_input_upgrade(net)
            or net_needs_batchnorm_upgrade(net))


def solver_needs_upgrade(solver):
    return solver.HasField("solver_type")


# ---------------------------------------------------------------------------- steps

def upgrade_data_transformation(net):
    """Move V1 data layers' scale/mean_file/crop_size/mirror into transform_param."""
    for layer, param in _v1_data_params(net):
        # Caffe takes both messages mutably for every such layer, so each upgraded data
        # layer carries a transform_param (and its data parameter), empty or not.
        param.SetInParent()
        layer.transform_param.SetInParent()
        for name in _TRANSFORM_FIELDS:
            if param.HasField(name):
                setattr(layer.transform_param, name, getattr(param, name))
                param.ClearField(name)


def _param_spec(layer, i):
    while len(layer.param) <= i:
        layer.param.add()
    return layer.param[i]


def upgrade_v1_layer(v1, layer):
    """Fill LayerParameter ``layer`` from V1LayerParameter ``v1``; False if lossy."""
    ok = True
    layer.Clear()
    layer.bottom.extend(v1.bottom)
    layer.top.extend(v1.top)
    if v1.HasField("name"):
        layer.name = v1.name
    for rule in v1.include:
        layer.include.add().CopyFrom(rule)
    for rule in v1.exclude:
        layer.exclude.add().CopyFrom(rule)
    if v1.HasField("type"):
        layer.type = v1_type_name(v1.type)
    for blob in v1.blobs:
        layer.blobs.add().CopyFrom(blob)
    for i, name in enumerate(v1.param):
        _param_spec(layer, i).name = name
    for i, mode in enumerate(v1.blob_share_mode):
        # The two DimCheckMode enums have the same names and numbers.
        _param_spec(layer, i).share_mode = caffe_pb2.ParamSpec.DimCheckMode.Value(
            _V1.DimCheckMode.Name(mode))
    for i, lr in enumerate(v1.blobs_lr):
        _param_spec(layer, i).lr_mult = lr
    for i, decay in enumerate(v1.weight_decay):
        _param_spec(layer, i).decay_mult = decay
    layer.loss_weight.extend(v1.loss_weight)
    # Every *_param message (layer-specific, transform_param, loss_param) has the same
    # name in both messages.
    for field, value in v1.ListFields():
        if field.name.endswith("_param") and field.message_type is not None:
            getattr(layer, field.name).CopyFrom(value)
    if v1.HasField("layer"):
        log.error("Input NetParameter has V0 layer -- ignoring.")
        ok = False
    return ok


def upgrade_v1_net(net):
    """Replace the V1 ``layers`` of ``net`` by ``layer`` entries, in place."""
    ok = True
    if len(net.layer) > 0:
        raise UpgradeError(
            "Refusing to upgrade inconsistent NetParameter input; the definition includes both "
            "'layer' and 'layers' fields. The current format defines 'layer' fields with string "
            "type like layer { type: 'Layer' ... } and not layers { type: LAYER ... }. Manually "
            f"switch the definition to 'layer' format to continue (layer '{net.layer[0].name}', "
            f"layers '{net.layers[0].name}').")
    v1_layers = [caffe_pb2.V1LayerParameter() for _ in net.layers]
    for copy, original in zip(v1_layers, net.layers):
        copy.CopyFrom(original)
    net.ClearField("layers")
    for i, v1 in enumerate(v1_layers):
        if not upgrade_v1_layer(v1, net.layer.add()):
            log.error("Upgrade of input layer %d failed.", i)
            ok = False
    return ok


def upgrade_net_input(net):
    """Turn net-level input / input_dim / input_shape into a first Input layer."""
    has_shape = len(net.input_shape) > 0
    has_dim = len(net.input_dim) > 0
    if has_shape or has_dim:
        if has_shape and len(net.input_shape) != len(net.input):
            raise UpgradeError(
                f"net has {len(net.input)} 'input' but {len(net.input_shape)} "
                "'input_shape' fields; there must be one shape per input")
        if has_dim and not has_shape and len(net.input_dim) != 4 * len(net.input):
            raise UpgradeError(
                f"net has {len(net.input)} 'input' but {len(net.input_dim)} 'input_dim' "
                "fields; there must be 4 input_dim values (N, C, H, W) per input")
        layer = caffe_pb2.LayerParameter(name="input", type="Input")
        for i, top in enumerate(net.input):
            layer.top.append(top)
            shape = layer.input_param.shape.add()
            if has_shape:
                shape.CopyFrom(net.input_shape[i])
            else:
                shape.dim.extend(net.input_dim[4 * i:4 * i + 4])
        layers = [layer] + [caffe_pb2.LayerParameter() for _ in net.layer]
        for copy, original in zip(layers[1:], net.layer):
            copy.CopyFrom(original)
        net.ClearField("layer")
        net.layer.extend(layers)
    net.ClearField("input")
    net.ClearField("input_shape")
    net.ClearField("input_dim")


def upgrade_batchnorm(net):
    """BatchNorm statistics are not learned: zero lr_mult/decay_mult of old 3-param specs."""
    for layer in net.layer:
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            for spec in layer.param:
                spec.lr_mult = 0.0
                spec.decay_mult = 0.0


# ---------------------------------------------------------------------------- drivers

def upgrade_net(net, source="<net>"):
    """Upgrade ``net`` (a NetParameter, text or binary origin) in place.

    Returns True when everything upgraded cleanly (False: Caffe's "had one or more
    problems ... continuing anyway"). Logs Caffe's messages naming ``source``.
    """
    ok = True
    if net_needs_v0_upgrade(net):
        from .upgrade_v0 import upgrade_v0_net

        log.info("Attempting to upgrade input file specified using deprecated "
                 "V0LayerParameter: %s", source)
        if upgrade_v0_net(net, source):
            log.info("Successfully upgraded file specified using deprecated V0LayerParameter")
        else:
            ok = False
            log.error("Warning: had one or more problems upgrading V0NetParameter to "
                      "NetParameter (see above); continuing anyway.")
        log.warning("Note that future Caffe releases will not support V0NetParameter; use "
                    "./build/tools/upgrade_net_proto_text for prototxt and "
                    "./build/tools/upgrade_net_proto_binary for model weights upgrade this "
                    "and any other net protos to the new format.")
    if net_needs_data_upgrade(net):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "transformation parameters: %s", source)
        upgrade_data_transformation(net)
        log.info("Successfully upgraded file specified using deprecated data "
                 "transformation parameters.")
    if net_needs_v1_upgrade(net):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "V1LayerParameter: %s", source)
        if upgrade_v1_net(net):
            log.info("Successfully upgraded file specified using deprecated V1LayerParameter")
        else:
            ok = False
            log.error("Warning: had one or more problems upgrading V1LayerParameter "
                      "(see above); continuing anyway.")
    if net_needs_input_upgrade(net):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "input fields: %s", source)
        upgrade_net_input(net)
        log.info("Successfully upgraded file specified using deprecated input fields.")
    if net_needs_batchnorm_upgrade(net):
        log.info("Attempting to upgrade batch norm layers using deprecated params: %s", source)
        upgrade_batchnorm(net)
        log.info("Successfully upgraded batch norm layers using deprecated params.")
    return ok


def upgrade_solver(solver, source="<solver>"):
    """Upgrade ``solver`` (SolverParameter) in place: solver_type enum -> type string.

    Returns True if it was upgraded, False if nothing needed upgrading.
    """
    if not solver_needs_upgrade(solver):
        return False
    if solver.HasField("type"):
        raise UpgradeError(
            f"{source}: Failed to upgrade solver: old solver_type field (enum) and new type "
            f"field (string) cannot be both specified (solver_type: "
            f"{caffe_pb2.SolverParameter.SolverType.Name(solver.solver_type)}, "
            f"type: \"{solver.type}\")")
    log.info("Attempting to upgrade input file specified using deprecated "
             "'solver_type' field (enum)': %s", source)
    solver.type = SOLVER_TYPE_NAMES[caffe_pb2.SolverParameter.SolverType.Name(solver.solver_type)]
    solver.ClearField("solver_type")
    log.info("Successfully upgraded file specified using deprecated 'solver_type' field "
             "(enum) to 'type' field (string).")
    return True
