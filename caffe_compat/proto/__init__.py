"""Caffe 1.0 protobuf schema (caffe.proto) and its generated module caffe_pb2."""
import os as _os

if _os.path.exists(_os.path.join(_os.path.dirname(__file__), "caffe_pb2.py")):
    from . import caffe_pb2
    from .text import install as _install_text

    _install_text(caffe_pb2)  # str(message) prints as pycaffe 1.0 printed it (see text.py)
else:  # only while bootstrapping: `python -m caffe_compat.proto.regenerate`
    caffe_pb2 = None

__all__ = ["caffe_pb2"]
