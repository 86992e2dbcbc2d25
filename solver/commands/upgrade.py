"""``tscaffe upgrade IN OUT``: Caffe's upgrade_net_proto_text, upgrade_solver_proto_text and
upgrade_net_proto_binary in one command.

IN is a net prototxt, a solver prototxt or a binary .caffemodel; the kind is detected
(binary content; else whichever of net / solver parses, the file name breaking ties) or
given with ``--kind``. OUT gets the upgraded file in the same form (text or binary),
written atomically. A file already in the current format is written unchanged.
"""
import logging
import os
import sys

from caffe_compat.errors import CaffeError

KINDS = ("auto", "net", "solver", "caffemodel")


def add_arguments(parser):
    parser.add_argument("input", metavar="IN", help="legacy net/solver prototxt or .caffemodel")
    parser.add_argument("output", metavar="OUT", help="where to write the upgraded file")
    parser.add_argument("--kind", choices=KINDS, default="auto",
                        help="what IN is (default: detect)")


def _is_binary(path):
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except FileNotFoundError:
        raise CaffeError(f"upgrade: no such file: {path}") from None
    except OSError as e:
        raise CaffeError(f"upgrade: cannot read {path}: {e.strerror}") from None
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # A multi-byte character cut by the 64 KiB window is still text.
        return e.start < len(head) - 4
    return False


def _detect_text_kind(path):
    """'net' or 'solver' for a text file; raises the more telling PrototxtError if neither."""
    from prototxt.io import PrototxtError, _read_text, parse_net, parse_solver

    text = _read_text(path)
    results = {}
    for kind, parse in (("net", parse_net), ("solver", parse_solver)):
        try:
            parse(text, os.fspath(path), upgrade=False)
            results[kind] = None
        except PrototxtError as e:
            results[kind] = e
    named_solver = "solver" in os.path.basename(os.fspath(path)).lower()
    ok = [k for k, err in results.items() if err is None]
    if len(ok) == 1:
        return ok[0]
    if len(ok) == 2:  # empty, or only fields both messages have
        return "solver" if named_solver else "net"
    # Neither parses: report the error of the kind that got further into the file.
    net_err, solver_err = results["net"], results["solver"]
    net_pos = (net_err.line or 0, net_err.column or 0)
    solver_pos = (solver_err.line or 0, solver_err.column or 0)
    if solver_pos > net_pos or (solver_pos == net_pos and named_solver):
        raise solver_err
    raise net_err


def run(args):
    from caffe_compat.io import atomic_write_bytes, read_net_binary
    from caffe_compat.upgrade import net_needs_upgrade, solver_needs_upgrade, upgrade_net
    from prototxt.io import read_net, read_solver, write_prototxt

    # Caffe's upgrade tools print their "Attempting to upgrade ..." lines: so do we.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("caffe_compat.upgrade")
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        kind = args.kind
        if kind == "auto":
            kind = "caffemodel" if _is_binary(args.input) else _detect_text_kind(args.input)
        if os.path.isdir(args.output):
            raise CaffeError(f"upgrade: OUT is a directory: {args.output}")
        if kind == "caffemodel":
            net = read_net_binary(args.input, upgrade=False)
            needed = net_needs_upgrade(net)
            upgrade_net(net, os.fspath(args.input))
            atomic_write_bytes(args.output, net.SerializeToString())
        elif kind == "net":
            needed = net_needs_upgrade(read_net(args.input, upgrade=False))
            write_prototxt(args.output, read_net(args.input))
        else:
            needed = solver_needs_upgrade(read_solver(args.input, upgrade=False))
            write_prototxt(args.output, read_solver(args.input))
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    state = "upgraded" if needed else "already in the latest format;"
    print(f"{args.input}: {kind} {state} wrote {args.output}", file=sys.stderr)
    return 0

