"""``tscaffe compare A B``: semantic difference of two nets or two solvers.

Exit status: 0 equal, 1 different, 2 a file could not be read or parsed. See
prototxt/compare.py for what counts as equal (defaults, V1 upgrade, loss_weight...).
"""
import sys


def add_arguments(parser):
    parser.add_argument("a", help="first net or solver prototxt")
    parser.add_argument("b", help="second net or solver prototxt")
    parser.add_argument("--ignore-paths", action="store_true",
                        help="ignore data sources, mean files, net/train_net/test_net paths, "
                        "snapshot_prefix and weights")
    parser.add_argument("--ignore-names", action="store_true",
                        help="ignore the net's and layers' names, and compare blobs by wiring "
                        "(renamed in order of first appearance)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing; exit status only")


def run(args):
    from caffe_compat.errors import CaffeError
    from prototxt.compare import compare_files
    try:
        diffs = compare_files(args.a, args.b, args.ignore_paths, args.ignore_names)
    except CaffeError as e:
        print(f"tscaffe compare: error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        if diffs:
            print(f"--- {args.a}\n+++ {args.b}")
            print("\n".join(diffs))
            print(f"{sum(1 for d in diffs if not d.endswith(':'))} difference(s)")
        else:
            print(f"{args.a} and {args.b} are equal")
    return 1 if diffs else 0
