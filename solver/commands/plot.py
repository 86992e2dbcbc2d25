"""``tscaffe plot LOG... -o OUT.png``: accuracy and losses of training logs, like the 2017 graphs.

One subplot per quantity (top-1 agreement, test accuracy, loss, teacher-student loss; the
2017 and KD runs' teacher-student losses on separate axes), one line per log; with
``--normalize`` the 2017 "normalized" view: one subplot per log, each loss divided by its
maximum so the three metrics share one axis; with ``--agreement`` the agreement figure of
``tscaffe reproduce`` (agreement against iterations, and the last agreement against λ).
Reads Caffe's own logs and ours (through ``tscaffe parse-log``'s parser). A log written by
``tscaffe distill`` / ``reproduce`` has its ``NAME_report.json`` next to it: its λ, loss and
labels give the run its colour, line style and marker (solver/plot_style.py), as in
reproduce's own figures. See solver/plot.py for how outputs are matched to quantities.
"""
from caffe_compat.errors import CaffeError


def add_arguments(p):
    p.add_argument("logs", metavar="LOG", nargs="+", help="Caffe-style training logs")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="image to write (.png, .svg, .pdf)")
    p.add_argument("--label", action="append", default=None,
                   help="legend name of each log, in order (default: the file names)")
    p.add_argument("--y", action="append", default=None, metavar="NAME",
                   help="plot this output column (repeatable) instead of the automatic "
                        "accuracy / loss / teacher-student loss choice")
    p.add_argument("--normalize", action="store_true",
                   help="one subplot per log, each loss divided by its maximum (2017 view)")
    p.add_argument("--train", action="store_true",
                   help="plot the 'Train net output' rows instead of the test rows")
    p.add_argument("--teacher-accuracy", type=float, default=None, metavar="ACC",
                   help="draw the teacher's accuracy as a reference line in the accuracy panel")
    p.add_argument("--agreement", action="store_true",
                   help="the agreement figure (top-1 agreement against iterations and, with "
                        "two λ or more, against λ) instead of the panels")
    p.add_argument("--title", default=None, help="figure title")


def run(args):
    from solver.plot import plot_agreement, plot_logs

    if args.label and len(args.label) != len(args.logs):
        raise CaffeError(f"{len(args.label)} --label value(s) for {len(args.logs)} log(s): "
                         "give one per log")
    if args.agreement:
        other = [f for f, v in (("--y", args.y), ("--normalize", args.normalize),
                                ("--train", args.train),
                                ("--teacher-accuracy", args.teacher_accuracy is not None)) if v]
        if other:
            raise CaffeError(f"--agreement draws the test agreement alone: drop {', '.join(other)}")
        series = plot_agreement(args.logs, args.output, labels=args.label, title=args.title)
    else:
        series = plot_logs(args.logs, args.output, labels=args.label, y=args.y,
                           normalize=args.normalize, train=args.train, title=args.title,
                           teacher_accuracy=args.teacher_accuracy)
    for s in series:
        cols = ", ".join(f"{q}={c.column}" for q, c in s.curves.items())
        n = max((len(c.iterations) for c in s.curves.values()), default=0)
        print(f"{s.label}: {n} points ({cols})")
    print(f"wrote {args.output}")
    return 0
