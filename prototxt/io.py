"""Read and write net and solver prototxt files.

Parsing is protobuf's ``text_format`` against our Caffe 1.0 schema; what it rejects becomes
a ``PrototxtError`` that a person can act on::

    net.prototxt:5:3: unknown field 'foo' in caffe.LayerParameter (in layer 'conv1')

Legacy files (V1 ``layers``, top-level ``input:``/``input_dim:``, ``solver_type:``) are
upgraded the way Caffe upgrades them when it reads them (caffe_compat.upgrade).
Writing gives canonical text (``to_text``), which Caffe reads back.
"""
import os
import re

from google.protobuf import descriptor_pool, text_format

from caffe_compat.errors import CaffeError
from caffe_compat.proto import caffe_pb2
from caffe_compat.proto_text import print_text
from caffe_compat.upgrade import upgrade_net, upgrade_solver


class PrototxtError(CaffeError):
    """A prototxt file does not parse; the message starts with ``file:line:column``."""

    def __init__(self, message, path=None, line=None, column=None, layer=None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column
        self.layer = layer


# ---------------------------------------------------------------------------- scanning

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[-+]?[0-9.][0-9A-Za-z.+-]*)
  | (?P<sym>.)
""", re.VERBOSE | re.DOTALL)

_OPEN = {"{": "}", "<": ">"}
_CLOSE = {"}", ">"}
_LAYER_BLOCKS = ("layer", "layers")


def _tokens(text):
    """(kind, text, offset) of every token, comments and whitespace left out."""
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            out.append((kind, m.group(), m.start()))
    return out


class _Block:
    def __init__(self, field, offset, token_index):
        self.field = field
        self.offset = offset
        self.token_index = token_index
        self.layer_index = None


def _blocks_at(tokens, offset):
    """The stack of blocks open at ``offset``, and whether a '}' there closes nothing.

    Each block knows the field it belongs to (``layer`` for ``layer { ... }``).
    """
    stack = []
    layer_count = 0
    unbalanced = None
    for i, (kind, tok, pos) in enumerate(tokens):
        if pos >= offset:
            break
        if kind == "sym" and tok in _OPEN:
            field = None
            j = i - 1
            if j >= 0 and tokens[j][1] == ":":
                j -= 1
            if j >= 0 and tokens[j][0] == "ident":
                field = tokens[j][1]
            block = _Block(field, pos, i)
            if field in _LAYER_BLOCKS and not stack:
                layer_count += 1
                block.layer_index = layer_count
            stack.append(block)
        elif kind == "sym" and tok in _CLOSE:
            if stack:
                stack.pop()
            else:
                unbalanced = pos
    return stack, unbalanced


def _block_name(tokens, block):
    """The ``name: "..."`` given directly inside ``block`` (anywhere in it), or None."""
    depth = 0
    for i in range(block.token_index + 1, len(tokens)):
        kind, tok, _ = tokens[i]
        if kind == "sym" and tok in _OPEN:
            depth += 1
        elif kind == "sym" and tok in _CLOSE:
            if depth == 0:
                return None
            depth -= 1
        elif (depth == 0 and kind == "ident" and tok == "name" and i + 2 < len(tokens)
              and tokens[i + 1][1] == ":" and tokens[i + 2][0] == "string"):
            quoted = tokens[i + 2][1]
            return quoted[1:-1] if len(quoted) > 1 and quoted[-1] == quoted[0] else quoted[1:]
    return None


def _field_before(tokens, offset):
    """The field whose value starts at ``offset``: the identifier before the last ':'."""
    before = [t for t in tokens if t[2] < offset]
    for i in range(len(before) - 1, 0, -1):
        if before[i][1] == ":" and before[i - 1][0] == "ident":
            return before[i - 1][1]
    return None


# ---------------------------------------------------------------------------- errors

def _enum_values(full_name):
    try:
        enum = descriptor_pool.Default().FindEnumTypeByName(full_name)
    except KeyError:
        return None
    return [v.name for v in enum.values]


def _fields_of(message_class):
    return {f.name for f in message_class.DESCRIPTOR.fields}


_SOLVER_ONLY = _fields_of(caffe_pb2.SolverParameter) - _fields_of(caffe_pb2.NetParameter)
_NET_ONLY = (_fields_of(caffe_pb2.NetParameter) | _fields_of(caffe_pb2.LayerParameter)) \
    - _fields_of(caffe_pb2.SolverParameter)


def _explain(raw, text, tokens, offset, message_class):
    """Turn protobuf's error text into a sentence naming the field or value."""
    field = _field_before(tokens, offset)

    m = re.match(r'Message type "([\w.]+)" has no field named "(\w+)"', raw)
    if m:
        owner, name = m.groups()
        msg = f"unknown field '{name}' in {owner}"
        if owner == message_class.DESCRIPTOR.full_name:
            if message_class is caffe_pb2.NetParameter and name in _SOLVER_ONLY:
                msg += " (this looks like a solver prototxt, not a net)"
            elif message_class is caffe_pb2.SolverParameter and name in _NET_ONLY:
                msg += " (this looks like a net prototxt, not a solver)"
        if owner == "caffe.LayerParameter" and name in _LAYER_BLOCKS:
            msg += " (a '}' is probably missing before it: the previous layer is not closed)"
        if owner == "caffe.LayerParameter" and name in ("blobs_lr", "weight_decay"):
            msg += (" (V1 syntax: inside 'layer' use param { lr_mult: ... decay_mult: ... },"
                    " or write the layer as a V1 'layers' block)")
        return msg
    m = re.match(r'Enum type "([\w.]+)" has no value (?:named|with number) (\S+?)\.?$', raw)
    if m:
        enum, value = m.groups()
        values = _enum_values(enum)
        where = f" for field '{field}'" if field else ""
        msg = f"invalid value '{value}'{where} (enum {enum}"
        return msg + (f"; valid: {', '.join(values)})" if values else ")")
    where = f"field '{field}'" if field else "this field"
    m = re.match(r"Expected string but found: (.*)$", raw)
    if m:
        return f"{where} expects a quoted string, got {m.group(1)}"
    m = re.match(r"Couldn't parse (integer|float|double|bool\w*): (.*)$", raw)
    if m:
        kind, value = m.groups()
        kind = "an integer" if kind == "integer" else ("true or false" if kind.startswith("bool")
                                                        else "a number")
        return f"{where} expects {kind}, got {value}"
    m = re.match(r"Expected (integer|double|float|identifier|bool\w*)(?:,| but) (?:got|found):? (.*)$", raw)
    if m and m.group(1) != "identifier":
        return f"{where} expects a {m.group(1)}, got {m.group(2)}"
    m = re.match(r"Value out of range: (.*)$", raw)
    if m:
        return f"value {m.group(1)} out of range for {where}"
    m = re.match(r'Message type "([\w.]+)" should not have multiple "(\w+)" fields', raw)
    if m:
        return f"field '{m.group(2)}' given more than once in {m.group(1)} (it is not repeated)"
    if raw.startswith("String missing ending quote"):
        return "string missing its closing quote"
    return raw.rstrip(".")


def _token_at(tokens, offset):
    for kind, tok, pos in tokens:
        if pos <= offset < pos + len(tok):
            return tok
    return None


def _where(text, offset):
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - text.rfind(chr(10), 0, offset)}"


def _make_error(path, text, err, message_class):
    line = err.GetLine() if hasattr(err, "GetLine") else None
    col = err.GetColumn() if hasattr(err, "GetColumn") else None
    raw = str(err)
    # protobuf: "L:C : 'source line': message" or "L:C : message"
    raw = re.sub(r"^\d+:\d+ : ", "", raw)
    raw = re.sub(r"^'[^\n]*?': (?=[A-Z])", "", raw)
    if not line or not col:
        return PrototxtError(f"{path}: {raw}", path)

    lines = text.split("\n")
    offset = sum(len(s) + 1 for s in lines[:line - 1]) + col - 1
    offset = max(0, min(offset, len(text)))
    tokens = _tokens(text)
    stack, unbalanced = _blocks_at(tokens, offset + 1)
    last_end = tokens[-1][2] + len(tokens[-1][1]) if tokens else 0
    nothing_after = all(pos <= offset for _, _, pos in tokens)

    if stack and (offset >= last_end or (nothing_after and raw.startswith('Expected "}"'))):
        # Truncated text: name the blocks left open.
        open_blocks = ", ".join(
            f"'{b.field or '?'}' opened at line {_where(text, b.offset)}" for b in stack)
        n = len(stack)
        message = (f"unexpected end of file: {n} block{'s' if n > 1 else ''} not closed "
                   f"(missing '}}'): {open_blocks}")
    elif raw.startswith('Expected "}"'):
        block = stack[-1] if stack else None
        message = "expected '}' here (unbalanced braces)"
        if block:
            message += f": the '{block.field or '?'}' block opened at line " \
                       f"{_where(text, block.offset)} is not closed"
    elif unbalanced is not None and raw.endswith("got }."):
        message = "unbalanced '}': there is no open block to close"
    elif raw.startswith('Expected ":"'):
        prev = [t for t in tokens if t[2] < offset]
        name = prev[-1][1] if prev else "?"
        message = f"expected ':' after '{name}' (field: value)"
    elif raw.startswith('Expected "true" or "false"'):
        field = _field_before(tokens, offset)
        message = f"field '{field}' expects true or false, got {_token_at(tokens, offset)}"
    else:
        message = _explain(raw, text, tokens, offset, message_class)

    layer_name = None
    layer_blocks = [b for b in stack if b.field in _LAYER_BLOCKS]
    if layer_blocks:
        block = layer_blocks[0]
        layer_name = _block_name(tokens, block)
        if layer_name is not None:
            message += f" (in layer '{layer_name}')"
        elif block.layer_index:
            message += f" (in layer #{block.layer_index}, which has no name)"
    return PrototxtError(f"{path}:{line}:{col}: {message}", path, line, col, layer_name)


def _parse_text(text, message_class, path):
    message = message_class()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as err:
        raise _make_error(path, text, err, message_class) from None
    return message


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise PrototxtError(f"{path}: file not found", os.fspath(path)) from None
    except UnicodeDecodeError:
        raise PrototxtError(
            f"{path}: not a text prototxt (binary data; a .caffemodel is read with "
            "caffe_compat.io.read_net_binary)", os.fspath(path)) from None
    except OSError as e:
        raise PrototxtError(f"{path}: cannot read: {e.strerror}", os.fspath(path)) from None


# ---------------------------------------------------------------------------- public API

def parse_net(text, path="<string>", upgrade=True):
    """A NetParameter from prototxt ``text`` (upgraded from legacy formats unless told not)."""
    net = _parse_text(text, caffe_pb2.NetParameter, path)
    if upgrade:
        upgrade_net(net, path)
    return net


def parse_solver(text, path="<string>", upgrade=True):
    """A SolverParameter from prototxt ``text`` (``solver_type`` upgraded unless told not)."""
    solver = _parse_text(text, caffe_pb2.SolverParameter, path)
    if upgrade:
        upgrade_solver(solver, path)
    return solver


def read_net(path, upgrade=True):
    """Read a net prototxt file into an (upgraded) NetParameter."""
    return parse_net(_read_text(path), os.fspath(path), upgrade)


def read_solver(path, upgrade=True):
    """Read a solver prototxt file into an (upgraded) SolverParameter."""
    return parse_solver(_read_text(path), os.fspath(path), upgrade)


def to_text(message):
    """Canonical prototxt text of a message, as Caffe's WriteProtoToTextFile writes it.

    Same layout as C++ protobuf's TextFormat (fields in number order, 2-space indent, floats
    as SimpleFtoa prints them: ``1`` not ``1.0``), so an upgraded file equals Caffe's own
    output; strings are written as UTF-8 (Caffe reads both that and octal escapes).
    """
    return print_text(message, utf8=True)


def write_prototxt(path, message):
    """Write ``message`` as prototxt, atomically."""
    from caffe_compat.io import atomic_write_bytes

    atomic_write_bytes(path, to_text(message).encode("utf-8"))
