"""Regenerate caffe_pb2.py from caffe.proto with grpcio-tools' bundled protoc.

    python -m caffe_compat.proto.regenerate          # rewrite caffe_pb2.py
    python -m caffe_compat.proto.regenerate --check  # exit 1 if it has drifted

Equivalent to
    python -m grpc_tools.protoc -I caffe_compat/proto \
        --python_out=caffe_compat/proto caffe.proto
"""
import argparse
import os
import sys
import tempfile

PROTO_DIR = os.path.dirname(os.path.abspath(__file__))
PROTO_NAME = "caffe.proto"
OUT_NAME = "caffe_pb2.py"


def generate(out_dir):
    """Run protoc on caffe.proto, writing caffe_pb2.py into out_dir; return its path."""
    from grpc_tools import protoc

    rc = protoc.main([
        "grpc_tools.protoc",
        "-I" + PROTO_DIR,
        "--python_out=" + out_dir,
        PROTO_NAME,
    ])
    if rc != 0:
        raise RuntimeError("protoc failed with exit status %d" % rc)
    return os.path.join(out_dir, OUT_NAME)


def check():
    """Return (ok, message): whether the committed caffe_pb2.py matches a fresh build."""
    committed = os.path.join(PROTO_DIR, OUT_NAME)
    with tempfile.TemporaryDirectory(prefix="caffe_pb2_") as tmp:
        with open(generate(tmp), "rb") as f:
            fresh = f.read()
    if not os.path.exists(committed):
        return False, "%s is missing" % committed
    with open(committed, "rb") as f:
        current = f.read()
    if current != fresh:
        return False, ("%s differs from what protoc generates from %s; "
                       "run python -m caffe_compat.proto.regenerate"
                       % (committed, os.path.join(PROTO_DIR, PROTO_NAME)))
    return True, "%s is up to date" % committed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="generate into a temp dir and fail if caffe_pb2.py differs")
    args = ap.parse_args(argv)
    if args.check:
        ok, msg = check()
        print(msg)
        return 0 if ok else 1
    path = generate(PROTO_DIR)
    print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
