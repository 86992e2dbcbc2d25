"""Caffe 1.0 protobuf schema (caffe.proto) and its generated module caffe_pb2."""
import os as _os

if _os.path.exists(_os.path.join(_os.path.dirname(__file__), "caffe_pb2.py")):
    from . import caffe_pb2
else:  # only while bootstrapping: `python -m caffe_compat.proto.regenerate`
    caffe_pb2 = None

__all__ = ["caffe_pb2"]
