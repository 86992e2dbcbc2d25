"""The ``tscaffe`` command line (also ``python -m solver``).

Each subcommand lives in ``solver/commands/<module>.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Caffe's tools take single-dash long
flags (``-solver``, ``-weights``); subcommands that mirror them accept both spellings.
"""
import argparse
import importlib
import sys

# name -> (module in solver.commands, one-line help)
COMMANDS = {
    "train": ("train", "train a net from a solver prototxt (caffe train)"),
    "test": ("test", "score a trained model on its TEST phase (caffe test)"),
    "time": ("time", "time forward/backward per layer (caffe time)"),
    "upgrade": ("upgrade", "upgrade a legacy net, solver or caffemodel to the current format"),
    "parse-log": ("parse_log", "turn a Caffe-style log into .train/.test CSV tables"),
    "plot": ("plot", "plot accuracy and losses of one or more logs"),
    "convert": ("convert", "convert MNIST IDX / CIFAR-10 binaries / image lists to LMDB"),
    "compute-mean": ("compute_mean", "compute the mean image of an LMDB (binaryproto)"),
    "label": ("label", "precompute an ONNX teacher's logits for a dataset (logit cache)"),
    "export-onnx": ("export_onnx", "export a trained net to ONNX"),
    "distill": ("distill", "teach a student architecture from ONNX teacher(s)"),
    "render": ("render", "render net and solver prototxts from an experiment config"),
    "compare": ("compare", "semantic difference of two nets or solvers"),
    "draw": ("draw", "draw a net as a graph (PNG/SVG)"),
    "reproduce": ("reproduce", "reproduce the 2017 teacher-student experiments end to end"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tscaffe",
        description="Caffe-faithful numpy teacher-student training and prototxt generator.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        try:
            mod = importlib.import_module(f"solver.commands.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"solver.commands.{module}":
                raise
            p.set_defaults(_missing=True)
            continue
        mod.add_arguments(p)
    return parser


def main(argv=None):
    from caffe_compat.errors import CaffeError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 1
    if getattr(args, "_missing", False):
        print(f"tscaffe {args.command}: not available in this build", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"solver.commands.{args._module}")
    try:
        return int(mod.run(args) or 0)
    except CaffeError as e:
        print(f"tscaffe {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tscaffe {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
