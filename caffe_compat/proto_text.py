"""Protobuf text and numbers as Caffe's C++ prints them; one printer for all of them.

- ``print_text(message)``: C++ protobuf's TextFormat layout (fields in number order, two-space
  indents, enums by name, bools as true/false, floats as ``simple_ftoa``). With
  ``utf8=True`` (prototxt files, Caffe's WriteProtoToTextFile as tscaffe writes them)
  strings keep their UTF-8; with ``utf8=False`` (``DebugString``, the "Initializing net /
  solver from parameters" log lines) non-ASCII bytes are octal-escaped as C++ does.
- ``simple_ftoa(value, single)``: protobuf's SimpleFtoa / SimpleDtoa: ``%.6g`` (``%.15g``)
  unless that does not read back as the same float, then ``%.9g`` (``%.17g``): ``1``, not
  Python's ``1.0``.
- ``ostream_g(x)``: a number as C++ ``ostream <<`` prints it (``%g``, 6 significant digits;
  integers whole): the numbers of Caffe's log lines.
"""
import math
import struct


def ostream_g(x):
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    return "%g" % float(x)


def simple_ftoa(value, single=True):
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    short, full = (6, 9) if single else (15, 17)
    text = "%.*g" % (short, value)
    parsed = float(text)
    if single:
        same = struct.pack("<f", parsed) == struct.pack("<f", value)
    else:
        same = parsed == value
    return text if same else "%.*g" % (full, value)


def python_float(value, single=True):
    """A float field as pycaffe 1.0's ``str(message)`` printed it: Python's ``str`` of the
    stored value widened to double (``0.003921568859368563``, ``1.0``)."""
    return str(float(value))


def field_text(field, value, utf8=True, float_text=simple_ftoa):
    """One scalar field value as TextFormat prints it (``float_text`` formats float and
    double fields: ``simple_ftoa`` as C++ does, ``python_float`` as pycaffe 1.0 did)."""
    from google.protobuf import text_encoding

    fd = field.__class__
    if field.type == fd.TYPE_STRING:
        if utf8:
            return '"' + text_encoding.CEscape(value, True) + '"'
        return '"' + text_encoding.CEscape(value.encode("utf-8"), as_utf8=False) + '"'
    if field.type == fd.TYPE_BYTES:
        return '"' + text_encoding.CEscape(value, False) + '"'
    if field.type == fd.TYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value is not None else str(value)
    if field.type == fd.TYPE_BOOL:
        return "true" if value else "false"
    if field.type == fd.TYPE_FLOAT:
        return float_text(value, single=True)
    if field.type == fd.TYPE_DOUBLE:
        return float_text(value, single=False)
    return str(value)


def _print(message, indent, out, utf8, float_text):
    pad = "  " * indent
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if field.message_type is not None:
                out.append(f"{pad}{field.name} {{\n")
                _print(item, indent + 1, out, utf8, float_text)
                out.append(f"{pad}}}\n")
            else:
                out.append(f"{pad}{field.name}: {field_text(field, item, utf8, float_text)}\n")


def print_text(message, utf8=True, float_text=simple_ftoa):
    """The message as text (see the module docstring)."""
    out = []
    _print(message, 0, out, utf8, float_text)
    return "".join(out)
