"""pycaffe's NetSpec: nets written as Python calls (``caffe.layers`` / ``caffe.params``).

``L.Convolution(bottom_top, kernel_size=3, ...)`` makes a :class:`Function` (one layer) and
returns its :class:`Top` (one output), a tuple of Tops (``ntop=2``) or the Function itself
(``ntop=0``). Keyword arguments become fields of the LayerParameter: keys ending in ``param``
(``param``, ``transform_param``, ``convolution_param`` ...) go to the layer, the others first
to the type's own ``<type>_param`` message and, where it has no such field (or the type has no
such message), to the layer (``include``, ``loss_weight``, ``top``, ``name`` ...). Lists fill
repeated fields (dicts in them add messages), dicts fill messages, a single value given to a
repeated field becomes a one-element list. ``in_place=True`` makes the layer's tops its bottoms.

Names, as pycaffe 1.0 gives them (scripts and their saved prototxts depend on them):

- ``NetSpec.to_proto()``: a Top assigned to the spec (``n.conv1 = ...``) is named by its
  attribute; every other top gets ``<Type><k>``, ``k`` counting per type from 1 in the order the
  layers are reached (inputs before the layer, the spec's attributes in assignment order);
- a layer is named as its first top (so an in-place layer takes its own first top's name,
  although that top is not written; ``ntop=0`` layers assigned to a spec take the attribute,
  unassigned ones ``<Type><k>``);
- ``to_proto(*tops)`` / ``Top.to_proto()``: only automatic names, the counters shared by the
  tops, the name table fresh for each top.
"""
import collections

from .proto import caffe_pb2


def param_name_dict():
    """{layer type: the prefix of its parameter field}, read off LayerParameter's
    ``*_param`` message fields (``"Convolution": "convolution"``; only types whose parameter
    message is named ``<Type>Parameter`` are found, as in pycaffe)."""
    found = {}
    for field in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if not field.name.endswith("_param") or field.message_type is None:
            continue
        type_name = field.message_type.name
        if type_name.endswith("Parameter"):
            found[type_name[:-len("Parameter")]] = field.name[:-len("_param")]
    return found


def _is_repeated(proto, name):
    field = proto.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
        raise AttributeError(f"{proto.DESCRIPTOR.name} has no field '{name}'")
    return field.is_repeated


def assign_proto(proto, name, val):
    """Set field ``name`` of ``proto`` from a Python value (recursively for dicts and lists
    of dicts); a lone value given to a repeated field is taken as a one-element list."""
    repeated = _is_repeated(proto, name)
    if repeated and not isinstance(val, (list, tuple)):
        val = [val]
    if isinstance(val, (list, tuple)):
        target = getattr(proto, name)
        for item in val:
            if isinstance(item, dict):
                message = target.add()
                for key, value in item.items():
                    assign_proto(message, key, value)
            elif hasattr(item, "DESCRIPTOR"):
                target.add().CopyFrom(item)
            else:
                target.append(item)
    elif isinstance(val, dict):
        message = getattr(proto, name)
        for key, value in val.items():
            assign_proto(message, key, value)
    elif hasattr(val, "DESCRIPTOR"):
        getattr(proto, name).CopyFrom(val)
    else:
        setattr(proto, name, val)


class Top:
    """One output blob of a layer: output ``n`` of Function ``fn``."""

    def __init__(self, fn, n):
        self.fn = fn
        self.n = n

    def to_proto(self):
        """A NetParameter with every layer needed to compute this top (automatic names)."""
        return to_proto(self)

    def _to_proto(self, layers, names, autonames):
        return self.fn._to_proto(layers, names, autonames)


class Function:
    """One layer: its type, its inputs (Tops) and its parameters."""

    def __init__(self, type_name, inputs, params):
        self.type_name = type_name
        for index, top in enumerate(inputs):
            if not isinstance(top, Top):
                raise TypeError(f"{type_name} input {index} is not a Top (type is {type(top)})")
        self.inputs = inputs
        self.params = params
        self.ntop = params.pop("ntop", 1)
        self.in_place = params.pop("in_place", False)
        self.tops = tuple(Top(self, n) for n in range(self.ntop))

    def _auto_name(self, autonames):
        autonames[self.type_name] += 1
        return f"{self.type_name}{autonames[self.type_name]}"

    def _get_top_name(self, top, names, autonames):
        if top not in names:
            names[top] = top.fn._auto_name(autonames)
        return names[top]

    def _get_name(self, names, autonames):
        if self not in names:
            if self.ntop > 0:
                names[self] = self._get_top_name(self.tops[0], names, autonames)
            else:
                names[self] = self._auto_name(autonames)
        return names[self]

    def _to_proto(self, layers, names, autonames):
        if self in layers:
            return
        bottoms = []
        for top in self.inputs:
            top._to_proto(layers, names, autonames)
            bottoms.append(layers[top.fn].top[top.n])
        layer = caffe_pb2.LayerParameter(type=self.type_name)
        layer.bottom.extend(bottoms)
        if self.in_place:
            layer.top.extend(bottoms)
        else:
            layer.top.extend(self._get_top_name(top, names, autonames) for top in self.tops)
        layer.name = self._get_name(names, autonames)
        own = _PARAM_NAMES.get(self.type_name)
        for key, value in self.params.items():
            if key.endswith("param") or own is None:
                assign_proto(layer, key, value)
                continue
            try:
                assign_proto(getattr(layer, own + "_param"), key, value)
            except AttributeError:
                assign_proto(layer, key, value)
        layers[self] = layer


def to_proto(*tops):
    """A NetParameter with every layer needed to compute ``tops`` (automatic names)."""
    layers = collections.OrderedDict()
    autonames = collections.Counter()
    for top in tops:
        top.fn._to_proto(layers, {}, autonames)
    net = caffe_pb2.NetParameter()
    net.layer.extend(layers.values())
    return net


class _MissingTop(KeyError, AttributeError):
    """A NetSpec attribute that was never assigned (a KeyError, as pycaffe raises, that
    ``hasattr`` also understands)."""


class NetSpec:
    """Tops assigned as attributes (``n.conv1 = L.Convolution(...)``) or items; ``to_proto()``
    writes every layer needed for them, named after the attributes."""

    def __init__(self):
        object.__setattr__(self, "tops", collections.OrderedDict())

    def __setattr__(self, name, value):
        self.tops[name] = value

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self.tops[name]
        except KeyError:
            raise _MissingTop(name) from None

    def __setitem__(self, key, value):
        self.tops[key] = value

    def __getitem__(self, key):
        return self.__getattr__(key)

    def __delattr__(self, name):
        del self.tops[name]

    def to_proto(self):
        names = {top: name for name, top in self.tops.items()}
        autonames = collections.Counter()
        layers = collections.OrderedDict()
        for top in self.tops.values():
            top._to_proto(layers, names, autonames)
        net = caffe_pb2.NetParameter()
        net.layer.extend(layers.values())
        return net


class Layers:
    """``caffe.layers`` (``L``): ``L.<Type>(*bottoms, **params)`` specifies one layer."""

    def __getattr__(self, type_name):
        if type_name.startswith("__"):
            raise AttributeError(type_name)

        def layer_fn(*args, **kwargs):
            fn = Function(type_name, args, kwargs)
            if fn.ntop == 0:
                return fn
            if fn.ntop == 1:
                return fn.tops[0]
            return fn.tops

        layer_fn.__name__ = type_name
        return layer_fn


class _EnumValues:
    def __init__(self, type_name):
        self._message = getattr(caffe_pb2, type_name + "Parameter")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._message, name)


class Parameters:
    """``caffe.params`` (``P``): ``P.Pooling.MAX`` is PoolingParameter's enum value MAX."""

    def __getattr__(self, type_name):
        if type_name.startswith("__"):
            raise AttributeError(type_name)
        return _EnumValues(type_name)


_PARAM_NAMES = param_name_dict()
layers = Layers()
params = Parameters()

__all__ = ["NetSpec", "Top", "Function", "to_proto", "assign_proto", "param_name_dict", "layers", "params"]
