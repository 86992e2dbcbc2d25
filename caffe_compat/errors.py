"""User-facing errors.

Everything a user can cause (a bad prototxt, a shape that does not fit, a corrupt file)
raises a ``CaffeError`` subclass whose message alone says what is wrong and where. The
command line prints the message and exits non-zero, without a traceback.
"""


class CaffeError(Exception):
    """Base of every error that a user's input can cause."""


class NetError(CaffeError):
    """The net cannot be built or run as described (missing bottom, bad wiring...)."""


class LayerSetupError(NetError):
    """A layer refuses its bottoms or parameters (shape mismatch, bad parameter)."""


class FormatError(CaffeError):
    """A binary or data file is truncated, corrupt, or of the wrong kind."""


class SolverError(CaffeError):
    """A solver parameter is invalid, or training cannot continue."""


class DivergenceError(SolverError):
    """The training loss became NaN/inf (or exploded): the weights are no longer usable.
    ``reason``: what happened, where (``loss became nan at iteration 12``), for handlers."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason if reason is not None else message


def fmt_shape(shape):
    """Caffe's way of printing a shape: ``64 1 28 28 (50176)``."""
    shape = tuple(int(d) for d in shape)
    count = 1
    for d in shape:
        count *= d
    return " ".join(str(d) for d in shape) + f" ({count})"


def layer_error(layer_name, message, **shapes):
    """A LayerSetupError naming the layer and, where given, the shapes involved."""
    parts = [f"Layer '{layer_name}': {message}"]
    for key, shape in shapes.items():
        parts.append(f"{key} shape: {fmt_shape(shape)}")
    return LayerSetupError("; ".join(parts))


def text_parse_error(path, err):
    """A FormatError ``path:line:col: message`` from protobuf's text_format.ParseError
    (whose own message starts with ``line:col : ``, dropped here so the position is said
    once)."""
    message = str(err)
    line, col = err.GetLine(), err.GetColumn()
    prefix = f"{line}:{col} : "
    if message.startswith(prefix):
        message = message[len(prefix):]
    return FormatError(f"{path}:{line}:{col}: {message}")
