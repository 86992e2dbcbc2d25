"""Semantic difference of two nets or two solvers (``tscaffe compare A B``).

Both files are parsed (a file is a net if it parses as a NetParameter, else a solver) and
upgraded as Caffe upgrades them (V1 ``layers`` -> ``layer``, solver_type -> type), so a V1
file and its current-format equivalent compare equal. Then each message is reduced to a
canonical form, following what Caffe reads rather than how the text spells it:

- An unset optional field equals its caffe.proto default (``group: 1``, ``value: 0``,
  ``backend: LEVELDB``...), except the fields whose *presence* Caffe checks (``has_...``):
  NetStateRule phase/min_level/max_level, LayerParameter.phase, the ``_h``/``_w`` variants of
  kernel/stride/pad in convolution and pooling, ``global_pooling``,
  BatchNormParameter.use_global_stats, TransformationParameter.mean_file and the
  solver's net / train_net / test_net fields. An unset message equals an empty one.
- Repeated fields are compared as lists, with two Caffe defaults made explicit: a layer
  whose type ends in "Loss" without ``loss_weight`` has ``loss_weight: 1`` (made explicit),
  and trailing
  ``param {}`` blocks that only restate the defaults (lr_mult 1, decay_mult 1) are dropped.
  Spellings that differ in text but not in effect beyond that (``stride: 1`` against
  ``stride_h: 1 stride_w: 1``) are reported: they are what a config's quirks reproduce.

Layers are paired in file order (Caffe runs them in that order), aligned by name and type
so that an inserted or missing layer shows as such rather than shifting every later pair.

Options: ``ignore_paths`` drops data sources, mean files, the solver's net paths,
snapshot_prefix and weights. ``ignore_names`` drops the net's and layers' names and
renames every blob to the order in which it first appears (``blob0``, ``blob1``...), so
two nets compare equal when they are wired the same way, whatever their names.
"""
import difflib
import logging

from caffe_compat.errors import CaffeError



class CompareError(CaffeError):
    """A file could not be read, parsed or upgraded."""


PRESENCE = {
    "NetStateRule": {"phase", "min_level", "max_level"},
    "LayerParameter": {"phase"},
    "ConvolutionParameter": {"kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h", "pad_w"},
    "PoolingParameter": {"kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h", "pad_w",
                         "global_pooling"},
    "BatchNormParameter": {"use_global_stats"},
    "TransformationParameter": {"mean_file"},
    "SolverParameter": {"net", "train_net", "test_net", "net_param", "train_net_param"},
}
PATH_FIELDS = {
    "DataParameter": {"source"}, "ImageDataParameter": {"source", "root_folder"},
    "HDF5DataParameter": {"source"}, "WindowDataParameter": {"source", "root_folder"},
    "TransformationParameter": {"mean_file"}, "HDF5OutputParameter": {"file_name"},
    "SolverParameter": {"net", "train_net", "test_net", "snapshot_prefix", "weights"},
}
class _Absent:
    def __repr__(self):
        return "(unset)"


ABSENT = _Absent()


# ----------------------------------------------------------------------------- reading

def load(path, text=None):
    """('net' | 'solver', upgraded message) of a prototxt file (or of ``text``)."""
    from . import io
    if text is None:
        text = io._read_text(path)
    looks_like_solver = any(k in text for k in ("base_lr", "lr_policy", "max_iter"))
    parsers = [("net", io.parse_net), ("solver", io.parse_solver)]
    if looks_like_solver:
        parsers.reverse()
    first_error = None
    for kind, parse in parsers:
        try:
            return kind, _quiet(parse, text, str(path))
        except io.PrototxtError as e:
            first_error = first_error or e
    raise CompareError(str(first_error)) from None


def _quiet(fn, *args):
    """Run an upgrade without its INFO log lines on the terminal."""
    logger = logging.getLogger("caffe_compat.upgrade")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return fn(*args)
    finally:
        logger.setLevel(level)


# ----------------------------------------------------------------------------- canonical form

def canon(msg, ignore_paths=False, layer_type=None):
    """A dict of the fields of ``msg`` that differ from Caffe's defaults (see module doc)."""
    desc = msg.DESCRIPTOR
    presence = PRESENCE.get(desc.name, set())
    paths = PATH_FIELDS.get(desc.name, set()) if ignore_paths else set()
    out = {}
    for field in desc.fields:
        name = field.name
        if name in paths:
            continue
        is_msg = field.message_type is not None
        enum = field.enum_type
        if field.is_repeated:
            values = list(getattr(msg, name))
            if enum is not None:
                values = [_enum_name(enum, v) for v in values]
            if is_msg:
                values = [canon(v, ignore_paths, getattr(v, "type", None)) for v in values]
            if name == "param" and desc.name in ("LayerParameter",):
                while values and not values[-1]:
                    values.pop()
            if name == "loss_weight" and desc.name == "LayerParameter" and not values \
                    and str(layer_type or "").endswith("Loss"):
                values = [1.0]  # Caffe's implicit weight of a loss layer's first top
            if values:
                out[name] = values
        elif is_msg:
            if msg.HasField(name):
                sub = canon(getattr(msg, name), ignore_paths,
                            getattr(msg, "type", None) if name == "layer" else None)
                if sub or name in presence:
                    out[name] = sub
        else:
            value = getattr(msg, name)
            if enum is not None:
                value, default = _enum_name(enum, value), _enum_name(enum, field.default_value)
            else:
                default = field.default_value
            if name in presence:
                if msg.HasField(name):
                    out[name] = value
            elif value != default:
                out[name] = value
    return out


class _Enum(str):
    """An enum value's name (printed bare, as in prototxt)."""


def _enum_name(enum, number):
    value = enum.values_by_number.get(number)
    return _Enum(value.name) if value is not None else number


def _rename_blobs(layers):
    """Blob names -> blob0, blob1... in order of first appearance (for ignore_names)."""
    names = {}
    for layer in layers:
        for key in ("bottom", "top"):
            new = []
            for blob in layer.get(key, []):
                names.setdefault(blob, f"blob{len(names)}")
                new.append(names[blob])
            if new:
                layer[key] = new


def canon_net(net, ignore_paths=False, ignore_names=False):
    top = canon(net, ignore_paths)
    layers = [canon(layer, ignore_paths, layer.type) for layer in net.layer]
    top.pop("layer", None)
    if ignore_names:
        top.pop("name", None)
        for layer in layers:
            layer.pop("name", None)
        _rename_blobs(layers)
    return top, layers


# ----------------------------------------------------------------------------- differences

def _show(value):
    if value is ABSENT:
        return "(unset)"
    if isinstance(value, float):
        return "%.7g" % value  # float fields hold float32: 7 digits say it all
    if isinstance(value, _Enum):
        return str(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default(field):
    """What Caffe reads for an unset scalar ``field`` (None where presence matters)."""
    if field is None or field.is_repeated or field.message_type is not None:
        return ABSENT
    if field.name in PRESENCE.get(field.containing_type.name, ()):
        return ABSENT
    if field.enum_type is not None:
        return _Enum(_enum_name(field.enum_type, field.default_value))
    return field.default_value


def diff_values(a, b, path="", desc=None):
    """['path: A != B', ...] for two canonical values of a ``desc`` message (or field)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            field = desc.fields_by_name.get(key) if desc is not None else None
            sub = field.message_type if field is not None else None
            default = _default(field)
            out += diff_values(a.get(key, default), b.get(key, default),
                               f"{path}.{key}" if path else key, sub)
        return out
    if (isinstance(a, list) and isinstance(b, list) and a and b
            and all(isinstance(x, dict) for x in a + b)):
        out = []
        for i in range(max(len(a), len(b))):
            out += diff_values(a[i] if i < len(a) else ABSENT, b[i] if i < len(b) else ABSENT,
                               f"{path}[{i}]", desc)
        return out
    if a is ABSENT and isinstance(b, dict):
        return diff_values({}, b, path, desc) if b else [f"{path}: (unset) != {{}}"]
    if b is ABSENT and isinstance(a, dict):
        return diff_values(a, {}, path, desc) if a else [f"{path}: {{}} != (unset)"]
    if a == b:
        return []
    return [f"{path}: {_show(a)} != {_show(b)}"]


def _label(i, layer, fallback):
    name = layer.get("name")
    return f"layer {i} {('%r' % name) if name else ''} ({layer.get('type', fallback)})".replace("  ", " ")


def compare_nets(a, b, ignore_paths=False, ignore_names=False):
    """Readable differences between two NetParameters ([] when equal)."""
    top_a, layers_a = canon_net(a, ignore_paths, ignore_names)
    top_b, layers_b = canon_net(b, ignore_paths, ignore_names)
    from caffe_compat.proto import caffe_pb2
    layer_desc = caffe_pb2.LayerParameter.DESCRIPTOR
    out = [f"net {d}" for d in diff_values(top_a, top_b, "", caffe_pb2.NetParameter.DESCRIPTOR)]

    def key(layer):
        return (layer.get("name"), layer.get("type"))

    matcher = difflib.SequenceMatcher(a=[key(x) for x in layers_a], b=[key(x) for x in layers_b],
                                      autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("equal", "replace") and (i2 - i1) == (j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2)):
                diffs = diff_values(layers_a[i], layers_b[j], "", layer_desc)
                if diffs:
                    head = _label(i, layers_a[i], "?")
                    if key(layers_a[i]) != key(layers_b[j]):
                        head += f" vs B's {_label(j, layers_b[j], '?')}"
                    out.append(head + ":")
                    out += [f"  {d}" for d in diffs]
            continue
        for i in range(i1, i2):
            out.append(f"only in A: {_label(i, layers_a[i], '?')}")
        for j in range(j1, j2):
            out.append(f"only in B: {_label(j, layers_b[j], '?')}")
    return out


def compare_solvers(a, b, ignore_paths=False):
    return [f"solver {d}" for d in diff_values(canon(a, ignore_paths), canon(b, ignore_paths),
                                               "", a.DESCRIPTOR)]


def compare_files(path_a, path_b, ignore_paths=False, ignore_names=False, text_a=None,
                  text_b=None):
    """Differences between two prototxt files (nets or solvers); [] when equal."""
    kind_a, a = load(path_a, text_a)
    kind_b, b = load(path_b, text_b)
    if kind_a != kind_b:
        return [f"{path_a} is a {kind_a}, {path_b} is a {kind_b}"]
    if kind_a == "net":
        return compare_nets(a, b, ignore_paths, ignore_names)
    return compare_solvers(a, b, ignore_paths)
