"""``tscaffe compute-mean DB OUT.binaryproto``: Caffe's compute_image_mean (LMDB backend).

The mean over every record of the database, written as the legacy 1 x C x H x W BlobProto
that Caffe writes and that ``transform_param { mean_file: ... }`` reads.
"""
import sys


def add_arguments(parser):
    parser.add_argument("db", help="an LMDB of Datum records")
    parser.add_argument("output", help="the .binaryproto file to write")
    parser.add_argument("--backend", "-backend", default="lmdb", help="only lmdb is supported")


def run(args):
    from caffe_compat.data.convert import compute_mean, write_mean_binaryproto
    from caffe_compat.errors import CaffeError

    if args.backend.lower() != "lmdb":
        raise CaffeError(f"backend '{args.backend}' is not supported: only lmdb is read")
    mean = compute_mean(args.db)
    write_mean_binaryproto(args.output, mean)
    per_channel = ", ".join(f"{v:g}" for v in mean.reshape(mean.shape[0], -1).mean(axis=1))
    print(f"wrote {args.output} ({' x '.join(map(str, (1,) + mean.shape))}); "
          f"mean value per channel: {per_channel}", file=sys.stderr)
    return 0
