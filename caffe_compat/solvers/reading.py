"""How the solvers read prototxt files: caffe_compat's own readers (protobuf's text parser,
Caffe's upgrades), unless a higher layer gives better ones (``use_readers``: tscaffe's
``solver`` package installs ``prototxt.io``'s, whose errors explain more), so nothing here
imports upward."""
import os

from google.protobuf import text_format

from ..errors import SolverError, text_parse_error
from ..proto import caffe_pb2
from ..upgrade import upgrade_solver

_READERS = {}


def use_readers(net=None, solver=None):
    """Read net / solver files with these functions (path -> message) from now on."""
    if net is not None:
        _READERS["net"] = net
    if solver is not None:
        _READERS["solver"] = solver


def _solver_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SolverError(f"{path}: cannot read: {e.strerror}") from None
    param = caffe_pb2.SolverParameter()
    try:
        text_format.Parse(text, param)
    except text_format.ParseError as e:
        raise text_parse_error(path, e) from None
    upgrade_solver(param, path)
    return param


def read_solver(path):
    return _READERS.get("solver", _solver_text)(os.fspath(path))


def read_net(path, field):
    """The NetParameter of the file ``path`` named by the solver field ``field``."""
    from ..net import read_net_text

    path = os.fspath(path)
    if not os.path.exists(path):
        raise SolverError(f"{field}: net file not found: '{path}' (paths are relative to the "
                          f"current directory, {os.getcwd()}, as in Caffe)")
    return _READERS.get("net", read_net_text)(path)
