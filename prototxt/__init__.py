"""prototxt: the text side of Caffe (read, write, upgrade, render, compare)."""
from .io import (PrototxtError, parse_net, parse_solver, read_net, read_solver, to_text,
                 write_prototxt)

__all__ = ["PrototxtError", "parse_net", "parse_solver", "read_net", "read_solver", "to_text",
           "write_prototxt"]
