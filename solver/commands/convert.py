"""``tscaffe convert``: Caffe's convert_mnist_data, convert_cifar_data and convert_imageset.

    tscaffe convert mnist IMAGES LABELS DB
    tscaffe convert cifar10 INPUT_DIR OUTPUT_DIR
    tscaffe convert imageset [--resize_height H --resize_width W --gray --shuffle
                             --encoded --encode_type EXT --check_size] ROOT/ LISTFILE DB

Positional arguments keep the order of Caffe's tools; flags take one or two dashes. Only the
LMDB backend is written (``--backend lmdb``, the default).
"""
import logging
import sys

from caffe_compat.errors import CaffeError


def _flag(p, name, **kw):
    p.add_argument(f"--{name}", f"-{name}", dest=name, **kw)


def add_arguments(parser):
    sub = parser.add_subparsers(dest="kind", metavar="KIND")
    sub.required = True
    m = sub.add_parser("mnist", help="MNIST / Fashion-MNIST IDX files (gzipped or not) -> LMDB")
    m.add_argument("images")
    m.add_argument("labels")
    m.add_argument("db")
    c = sub.add_parser("cifar10", help="CIFAR-10 batches (binary or python version) -> cifar10_{train,test}_lmdb")
    c.add_argument("input_dir")
    c.add_argument("output_dir")
    i = sub.add_parser("imageset", help="a list file of 'path label' lines -> LMDB")
    i.add_argument("root", help="folder prefixed to every listed path (keep the trailing /)")
    i.add_argument("listfile")
    i.add_argument("db")
    _flag(i, "resize_height", type=int, default=0)
    _flag(i, "resize_width", type=int, default=0)
    _flag(i, "gray", action="store_true", help="read images as grayscale")
    _flag(i, "shuffle", action="store_true", help="shuffle the list (seeded by --seed)")
    _flag(i, "encoded", action="store_true", help="store encoded images (PNG/JPEG bytes)")
    _flag(i, "encode_type", default="", help="re-encode as this type (png, jpg)")
    _flag(i, "check_size", action="store_true", help="all images must have the same size")
    _flag(i, "seed", type=int, default=-1, help="random seed for --shuffle")
    for p in (m, c, i):
        _flag(p, "backend", default="lmdb", help="only lmdb is supported")


def run(args):
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from caffe_compat.data import convert

    if args.backend.lower() != "lmdb":
        raise CaffeError(f"backend '{args.backend}' is not supported: only lmdb is written")
    if args.kind == "mnist":
        n = convert.convert_mnist(args.images, args.labels, args.db)
        print(f"wrote {n} records to {args.db}")
    elif args.kind == "cifar10":
        counts = convert.convert_cifar10(args.input_dir, args.output_dir)
        print(f"wrote {counts['train']} train and {counts['test']} test records to "
              f"{args.output_dir}/cifar10_train_lmdb and cifar10_test_lmdb")
    else:
        from caffe_compat import rng

        if args.seed >= 0:
            rng.set_seed(args.seed)
        n, skipped = convert.convert_imageset(
            args.root, args.listfile, args.db, args.resize_height, args.resize_width,
            args.gray, args.shuffle, args.encoded, args.encode_type, args.check_size)
        print(f"wrote {n} records to {args.db}")
        if skipped:
            print(f"skipped {len(skipped)} unreadable file(s): {', '.join(skipped[:10])}",
                  file=sys.stderr)
    return 0
