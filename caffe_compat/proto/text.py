"""Caffe messages printed as pycaffe 1.0 printed them (``print(net_spec.to_proto())``).

pycaffe 1.0 ran on protobuf 3's C++ implementation, whose ``str(message)`` is C++
TextFormat with Python's own float printing: every float and double field as Python's
``str(float)`` of the stored value (a float32 widened to double: ``scale: 0.003921568859368563``,
``lr_mult: 1.0``); strings C-escaped (octal for bytes outside printable ASCII); enums by name;
fields in number order, two-space indents. Newer protobuf releases print floats in their
shortest float32 form (``0.00392156886``, ``1``), so 2017 scripts that write a prototxt with
``str(...)`` would write other text; ``install()`` gives caffe_pb2's classes this printing.
"""


def pycaffe_text(message):
    """The text pycaffe 1.0 (protobuf 3, C++ implementation, Python 3) prints for ``message``:
    the one printer of caffe_compat.proto_text, strings C-escaped, floats as Python's str."""
    from ..proto_text import print_text, python_float

    return print_text(message, utf8=False, float_text=python_float)


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
