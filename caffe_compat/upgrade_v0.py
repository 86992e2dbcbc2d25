"""V0 nets (``layers { layer { name type ... } }``) to V1, as Caffe 1.0's UpgradeV0Net does.

Caffe 1.0 still reads V0 nets (Places205-AlexNet, the 2013 model zoo): upgrade_net's first
step turns them into V1 ``layers``, which the later steps then upgrade like any V1 net.

1. Padding layers are folded into the layer that reads them: a ``padding`` layer's ``pad``
   moves into the next ``conv`` or ``pool`` layer reading its output, which reads the
   padding layer's input instead; the padding layer disappears. A padding layer feeding
   another type, a reader with several bottoms, or a padding layer with several bottoms or
   tops is an error (Caffe: a fatal CHECK). A padding layer nobody reads is dropped.
2. Each V0 layer becomes a V1 layer: bottoms and tops, the name, the type string mapped to
   the V1 enum (``conv`` -> CONVOLUTION, ``innerproduct`` -> INNER_PRODUCT, ``pool`` ->
   POOLING, ``images`` -> IMAGE_DATA...; an unknown name is an error), blobs, blobs_lr,
   weight_decay, and each flat V0 field into its layer's parameter message (num_output,
   biasterm -> bias_term, weight_filler, bias_filler, pad, kernelsize -> kernel_size, group,
   stride, pool, dropout_ratio, local_size, alpha, beta, k, source, batchsize -> batch_size,
   rand_skip, shuffle_images -> shuffle, new_height, new_width, concat_dim, det_* ->
   window_data_param, hdf5_output_param); scale, meanfile, cropsize and mirror go to
   transform_param for every type. A field the layer's type has no place for is dropped
   with Caffe's "Unknown parameter X for layer type Y" and makes the upgrade lossy.
3. Of the net only name, input, input_dim and force_backward survive (Caffe clears the rest).
"""
import logging

from .proto import caffe_pb2
from .upgrade import UpgradeError

log = logging.getLogger("caffe_compat.upgrade")

_V1 = caffe_pb2.V1LayerParameter

V0_TYPES = {
    "accuracy": "ACCURACY", "bnll": "BNLL", "concat": "CONCAT", "conv": "CONVOLUTION",
    "data": "DATA", "dropout": "DROPOUT", "euclidean_loss": "EUCLIDEAN_LOSS",
    "flatten": "FLATTEN", "hdf5_data": "HDF5_DATA", "hdf5_output": "HDF5_OUTPUT",
    "im2col": "IM2COL", "images": "IMAGE_DATA", "infogain_loss": "INFOGAIN_LOSS",
    "innerproduct": "INNER_PRODUCT", "lrn": "LRN",
    "multinomial_logistic_loss": "MULTINOMIAL_LOGISTIC_LOSS", "pool": "POOLING",
    "relu": "RELU", "sigmoid": "SIGMOID", "softmax": "SOFTMAX", "softmax_loss": "SOFTMAX_LOSS",
    "split": "SPLIT", "tanh": "TANH", "window_data": "WINDOW_DATA",
}

# V0 field -> {V0 type: (V1 parameter message, its field)}; the rest of the types log an error.
_FIELDS = {
    "num_output": {"conv": ("convolution_param", "num_output"),
                   "innerproduct": ("inner_product_param", "num_output")},
    "biasterm": {"conv": ("convolution_param", "bias_term"),
                 "innerproduct": ("inner_product_param", "bias_term")},
    "weight_filler": {"conv": ("convolution_param", "weight_filler"),
                      "innerproduct": ("inner_product_param", "weight_filler")},
    "bias_filler": {"conv": ("convolution_param", "bias_filler"),
                    "innerproduct": ("inner_product_param", "bias_filler")},
    "pad": {"conv": ("convolution_param", "pad"), "pool": ("pooling_param", "pad")},
    "kernelsize": {"conv": ("convolution_param", "kernel_size"),
                   "pool": ("pooling_param", "kernel_size")},
    "group": {"conv": ("convolution_param", "group")},
    "stride": {"conv": ("convolution_param", "stride"), "pool": ("pooling_param", "stride")},
    "pool": {"pool": ("pooling_param", "pool")},
    "dropout_ratio": {"dropout": ("dropout_param", "dropout_ratio")},
    "local_size": {"lrn": ("lrn_param", "local_size")},
    "alpha": {"lrn": ("lrn_param", "alpha")},
    "beta": {"lrn": ("lrn_param", "beta")},
    "k": {"lrn": ("lrn_param", "k")},
    "source": {"data": ("data_param", "source"), "hdf5_data": ("hdf5_data_param", "source"),
               "images": ("image_data_param", "source"),
               "window_data": ("window_data_param", "source"),
               "infogain_loss": ("infogain_loss_param", "source")},
    "scale": None,  # transform_param, any type
    "meanfile": None,
    "batchsize": {"data": ("data_param", "batch_size"),
                  "hdf5_data": ("hdf5_data_param", "batch_size"),
                  "images": ("image_data_param", "batch_size"),
                  "window_data": ("window_data_param", "batch_size")},
    "cropsize": None,
    "mirror": None,
    "rand_skip": {"data": ("data_param", "rand_skip"), "images": ("image_data_param", "rand_skip")},
    "shuffle_images": {"images": ("image_data_param", "shuffle")},
    "new_height": {"images": ("image_data_param", "new_height")},
    "new_width": {"images": ("image_data_param", "new_width")},
    "concat_dim": {"concat": ("concat_param", "concat_dim")},
    "det_fg_threshold": {"window_data": ("window_data_param", "fg_threshold")},
    "det_bg_threshold": {"window_data": ("window_data_param", "bg_threshold")},
    "det_fg_fraction": {"window_data": ("window_data_param", "fg_fraction")},
    "det_context_pad": {"window_data": ("window_data_param", "context_pad")},
    "det_crop_mode": {"window_data": ("window_data_param", "crop_mode")},
    "hdf5_output_param": {"hdf5_output": ("hdf5_output_param", None)},
}
_TRANSFORM = {"scale": "scale", "meanfile": "mean_file", "cropsize": "crop_size", "mirror": "mirror"}
_POOL_METHODS = {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}
# The Caffe 1.0 log names some fields differently from the V0 message.
_LOG_NAMES = {"shuffle_images": "shuffle"}


class V0UpgradeError(UpgradeError):
    """A V0 net Caffe 1.0 refuses to upgrade (its fatal CHECKs)."""


def net_needs_v0_upgrade(net):
    return any(layer.HasField("layer") for layer in net.layers)


def fold_padding_layers(net, source="<net>"):
    """The V1 ``layers`` of ``net`` with V0 padding layers folded into their readers."""
    last_top = {name: -1 for name in net.input}
    out = []
    for i, connection in enumerate(net.layers):
        v0 = connection.layer
        if v0.type != "padding":
            copy = _V1()
            copy.CopyFrom(connection)
            out.append(copy)
        for j, blob in enumerate(connection.bottom):
            if blob not in last_top:
                raise V0UpgradeError(f"{source}: Unknown blob input {blob} to layer {j} "
                                     f"('{v0.name}')")
            src = last_top[blob]
            if src == -1 or net.layers[src].layer.type != "padding":
                continue
            pad_layer = net.layers[src]
            if v0.type not in ("conv", "pool"):
                raise V0UpgradeError(f"{source}: Padding layer input to non-convolutional / "
                                     f"non-pooling layer type {v0.type} (layer '{v0.name}')")
            if len(connection.bottom) != 1:
                raise V0UpgradeError(f"{source}: layer '{v0.name}': Conv Layer takes a single "
                                     "blob as input.")
            if len(pad_layer.bottom) != 1:
                raise V0UpgradeError(f"{source}: layer '{pad_layer.layer.name}': Padding Layer "
                                     "takes a single blob as input.")
            if len(pad_layer.top) != 1:
                raise V0UpgradeError(f"{source}: layer '{pad_layer.layer.name}': Padding Layer "
                                     "produces a single blob as output.")
            out[-1].layer.pad = pad_layer.layer.pad
            out[-1].bottom[j] = pad_layer.bottom[0]
        for blob in connection.top:
            last_top[blob] = i
    return out


def upgrade_v0_layer(connection, v1, source="<net>"):
    """Fill V1LayerParameter ``v1`` from a V0 ``connection``; False if a field was dropped."""
    ok = True
    v1.Clear()
    v1.bottom.extend(connection.bottom)
    v1.top.extend(connection.top)
    if not connection.HasField("layer"):
        return ok
    v0 = connection.layer
    if v0.HasField("name"):
        v1.name = v0.name
    kind = v0.type
    if v0.HasField("type"):
        if kind not in V0_TYPES:
            raise V0UpgradeError(f"{source}: Unknown layer name: {kind} (layer '{v0.name}')")
        v1.type = _V1.LayerType.Value(V0_TYPES[kind])
    for blob in v0.blobs:
        v1.blobs.add().CopyFrom(blob)
    v1.blobs_lr.extend(v0.blobs_lr)
    v1.weight_decay.extend(v0.weight_decay)
    for field, targets in _FIELDS.items():
        if not v0.HasField(field):
            continue
        value = getattr(v0, field)
        if targets is None:
            setattr(v1.transform_param, _TRANSFORM[field], value)
            continue
        if kind not in targets:
            log.error("Unknown parameter %s for layer type %s", _LOG_NAMES.get(field, field), kind)
            ok = False
            continue
        message_name, target = targets[kind]
        message = getattr(v1, message_name)
        if target is None:
            message.CopyFrom(value)
        elif field in ("weight_filler", "bias_filler"):
            getattr(message, target).CopyFrom(value)
        elif field == "pool":
            if value not in _POOL_METHODS:
                log.error("Unknown pool method %s", value)
                ok = False
                continue
            message.pool = caffe_pb2.PoolingParameter.PoolMethod.Value(_POOL_METHODS[value])
        elif message_name == "convolution_param" and field in ("pad", "kernelsize", "stride"):
            getattr(message, target).append(value)  # repeated in ConvolutionParameter
        else:
            setattr(message, target, value)
    return ok


def upgrade_v0_net(net, source="<net>"):
    """Replace the V0 layers of ``net`` by V1 layers, in place; False if lossy."""
    layers = fold_padding_layers(net, source)
    kept = {"name": net.name if net.HasField("name") else None, "input": list(net.input),
            "input_dim": list(net.input_dim),
            "force_backward": net.force_backward if net.HasField("force_backward") else None}
    ok = True
    v1_layers = []
    for connection in layers:
        v1 = _V1()
        ok &= upgrade_v0_layer(connection, v1, source)
        v1_layers.append(v1)
    net.Clear()
    if kept["name"] is not None:
        net.name = kept["name"]
    net.layers.extend(v1_layers)
    net.input.extend(kept["input"])
    net.input_dim.extend(kept["input_dim"])
    if kept["force_backward"] is not None:
        net.force_backward = kept["force_backward"]
    return ok
