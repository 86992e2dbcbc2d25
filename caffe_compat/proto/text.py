"""Caffe messages printed as pycaffe 1.0 printed them (``print(net_spec.to_proto())``).

pycaffe 1.0 ran on protobuf 3's C++ implementation, whose ``str(message)`` is C++
TextFormat with Python's own float printing: every float and double field as Python's
``str(float)`` of the stored value (a float32 widened to double: ``scale: 0.003921568859368563``,
``lr_mult: 1.0``); strings C-escaped (octal for bytes outside printable ASCII); enums by name;
fields in number order, two-space indents. Newer protobuf releases print floats in their
shortest float32 form (``0.00392156886``, ``1``), so 2017 scripts that write a prototxt with
``str(...)`` would write other text; ``install()`` gives caffe_pb2's classes this printing.
"""


def _escape(data):
    out = []
    for byte in data:
        ch = chr(byte)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch in "\"'\\":
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append("\\%03o" % byte)
    return "".join(out)


def _value(field, value):
    if field.type == field.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else str(value)
    if field.type == field.TYPE_STRING:
        return '"' + _escape(value.encode("utf-8")) + '"'
    if field.type == field.TYPE_BYTES:
        return '"' + _escape(value) + '"'
    if field.type == field.TYPE_BOOL:
        return "true" if value else "false"
    if field.type in (field.TYPE_FLOAT, field.TYPE_DOUBLE):
        return str(float(value))
    return str(value)


def _print(message, indent, out):
    for field, value in message.ListFields():
        for item in (value if field.is_repeated else (value,)):
            if field.type in (field.TYPE_MESSAGE, field.TYPE_GROUP):
                out.append(f"{indent}{field.name} {{\n")
                _print(item, indent + "  ", out)
                out.append(f"{indent}}}\n")
            else:
                out.append(f"{indent}{field.name}: {_value(field, item)}\n")


def pycaffe_text(message):
    """The text pycaffe 1.0 (protobuf 3, C++ implementation, Python 3) prints for ``message``."""
    out = []
    _print(message, "", out)
    return "".join(out)


def install(module):
    """Make ``str()`` and ``repr()`` (the same text in pycaffe) of every message class in ``module`` (caffe_pb2) print pycaffe's text."""
    for name in module.DESCRIPTOR.message_types_by_name:
        cls = getattr(module, name)
        cls.__str__ = cls.__repr__ = pycaffe_text
        _install_nested(cls)


def _install_nested(cls):
    for nested in cls.DESCRIPTOR.nested_types:
        sub = getattr(cls, nested.name)
        sub.__str__ = sub.__repr__ = pycaffe_text
        _install_nested(sub)
