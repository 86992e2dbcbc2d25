"""Plain Python values (dicts, lists, scalars) written as protobuf text, guided by caffe.proto.

The templates build each layer as a dict in Caffe's own field names; ``to_text`` checks every
key against the message descriptor (so a misspelt field fails at render time, naming its
path), quotes strings, leaves enums bare and repeats list items as Caffe's text format does.
``deep_merge`` applies a config's per-layer quirks to such a dict.
"""
from caffe_compat.errors import CaffeError

C = None  # FieldDescriptor, loaded lazily to keep import cheap


class FieldError(CaffeError):
    """A dict key or value that does not fit caffe.proto."""


def _fd():
    global C
    if C is None:
        from google.protobuf.descriptor import FieldDescriptor
        C = FieldDescriptor
    return C


def fmt_float(value):
    """Shortest readable form; 12 significant digits hide float noise such as 1 - 0.7."""
    text = "%.12g" % float(value)
    return text


def _quote(text):
    text = str(text)
    if '"' in text and "'" not in text and "\n" not in text:
        # JSON param_str reads best single-quoted, as Caffe's own examples write it
        return "'" + text.replace("\\", "\\\\") + "'"
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def scalar_text(field, value, path):
    """One scalar ``value`` of ``field`` as protobuf text."""
    FD = _fd()
    t = field.cpp_type
    if t == FD.CPPTYPE_MESSAGE:
        raise FieldError(f"{path}: expects a message (a mapping), got {value!r}")
    if t == FD.CPPTYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        if isinstance(value, bool) or str(value) not in names:
            raise FieldError(f"{path}: {value!r} is not one of {', '.join(names)}")
        return str(value)
    if t == FD.CPPTYPE_BOOL:
        if not isinstance(value, bool):
            raise FieldError(f"{path}: expects true/false, got {value!r}")
        return "true" if value else "false"
    if t == FD.CPPTYPE_STRING:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise FieldError(f"{path}: expects a string, got {value!r}")
        return _quote(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(f"{path}: expects a number, got {value!r}")
    if t in (FD.CPPTYPE_FLOAT, FD.CPPTYPE_DOUBLE):
        return fmt_float(value)
    if value != int(value):
        raise FieldError(f"{path}: expects an integer, got {value!r}")
    return str(int(value))


def to_text(values, descriptor, indent=0, path=""):
    """``values`` (a dict) as the body of a ``descriptor`` message, ``indent`` spaces deep.

    None values are skipped (a quirk's way of deleting a field); lists repeat the field.
    """
    FD = _fd()
    if not isinstance(values, dict):
        raise FieldError(f"{path or descriptor.name}: expects a mapping of "
                         f"{descriptor.name} fields, got {values!r}")
    pad = " " * indent
    lines = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else str(key)
        field = descriptor.fields_by_name.get(key)
        if field is None:
            raise FieldError(f"{where}: {descriptor.name} has no field '{key}'")
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        if not field.is_repeated and len(items) != 1:
            raise FieldError(f"{where}: {descriptor.name}.{key} is not repeated, got a list")
        for i, item in enumerate(items):
            at = f"{where}[{i}]" if field.is_repeated and isinstance(value, (list, tuple)) else where
            if field.cpp_type == FD.CPPTYPE_MESSAGE:
                body = to_text(item if item is not None else {}, field.message_type,
                               indent + 2, at)
                lines.append(f"{pad}{key} {{\n{body}{pad}}}\n" if body else f"{pad}{key} {{\n{pad}}}\n")
            else:
                lines.append(f"{pad}{key}: {scalar_text(field, item, at)}\n")
    return "".join(lines)


def deep_merge(base, over):
    """``over`` merged into a copy of ``base``: mappings merge, lists and scalars replace,
    None deletes (kept as None so that ``to_text`` skips it)."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
