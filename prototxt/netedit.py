"""Edits of NetParameter messages that several tools need (deploy nets, tests, export)."""
from caffe_compat.proto import caffe_pb2

DATA_LAYER_TYPES = ("Data", "ImageData", "MemoryData", "HDF5Data", "WindowData", "DummyData")


def data_shape_of(layer):
    """(C, H, W) a data layer produces, where its parameters alone say it; else None."""
    if layer.type == "MemoryData":
        p = layer.memory_data_param
        return (p.channels, p.height, p.width)
    if layer.type == "ImageData":
        p = layer.image_data_param
        if p.new_height and p.new_width:
            crop = layer.transform_param.crop_size
            h, w = (crop, crop) if crop else (p.new_height, p.new_width)
            return (3 if p.is_color else 1, h, w)
    return None


def batch_size_of(layer):
    for field in ("data_param", "image_data_param", "memory_data_param"):
        if layer.HasField(field):
            return getattr(layer, field).batch_size
    return None


def swap_data_for_input(net_param, sample_shape=None, batch=None, phase=None):
    """A copy of ``net_param`` whose data layers are Input layers.

    ``sample_shape`` is (C, H, W) of one sample (after the transform's crop); ``batch``
    overrides the data layers' batch sizes. The label top, when present, becomes an Input
    of shape (batch,). With ``phase`` (0 TRAIN, 1 TEST) only data layers of that phase are
    kept, so a train_val file with one Data layer per phase gets one Input layer.
    """
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    del out.layer[:]
    seen_tops = set()
    for layer in net_param.layer:
        if layer.type not in DATA_LAYER_TYPES:
            out.layer.add().CopyFrom(layer)
            continue
        if phase is not None and not _in_phase(layer, phase):
            continue
        if seen_tops & set(layer.top):
            continue  # the other phase's copy of the same data layer
        seen_tops |= set(layer.top)
        shape = sample_shape or data_shape_of(layer)
        if shape is None:
            raise ValueError(f"data layer '{layer.name}': give the sample shape (C, H, W)")
        n = batch or batch_size_of(layer) or 1
        new = out.layer.add()
        new.name, new.type = layer.name, "Input"
        new.top.extend(layer.top)
        for i, _ in enumerate(layer.top):
            s = new.input_param.shape.add()
            s.dim.extend([n] + list(shape) if i == 0 else [n])
    return out


def _in_phase(layer, phase):
    if layer.HasField("phase"):
        return layer.phase == phase
    if layer.include:
        return any(not r.HasField("phase") or r.phase == phase for r in layer.include)
    if layer.exclude:
        return not any(r.HasField("phase") and r.phase == phase for r in layer.exclude)
    return True
