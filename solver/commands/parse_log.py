"""``tscaffe parse-log LOG [OUTPUT_DIR]``: Caffe's tools/extra/parse_log.py.

Writes ``OUTPUT_DIR/<log name>.train`` and ``.test`` (CSV: NumIters, Seconds, LearningRate,
then one column per net output; one row per display / test pass). OUTPUT_DIR defaults to
the current directory, where Caffe's parse_log.sh writes.
"""
import os

from caffe_compat.errors import CaffeError


def add_arguments(parser):
    parser.add_argument("logfile_path", metavar="LOG", help="a Caffe or tscaffe training log")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", nargs="?", default=".",
                        help="where to write LOG.train and LOG.test (default: .)")
    parser.add_argument("--delimiter", default=",", help="column delimiter (default ',')")
    parser.add_argument("--verbose", action="store_true", help="say which files were written")


def run(args):
    from solver.parse_log import parse_log, save_csv_files

    if not os.path.isfile(args.logfile_path):
        raise CaffeError(f"parse-log: no such log file: {args.logfile_path}")
    if not os.path.isdir(args.output_dir):
        raise CaffeError(f"parse-log: output directory does not exist: {args.output_dir}")
    train, test = parse_log(args.logfile_path)
    written = save_csv_files(args.logfile_path, args.output_dir, train, test, args.delimiter)
    if args.verbose:
        for path in written:
            print(f"Wrote {path}")
        for name, rows in (("train", train), ("test", test)):
            if not rows:
                print(f"Not writing the {name} table: no lines to write")
    return 0
