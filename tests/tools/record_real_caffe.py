"""Record what real Caffe 1.0 says about the original and the rendered prototxts.

    python tests/tools/record_real_caffe.py [--out tests/data/real_caffe.json]

Needs Caffe's own tools on PATH (``caffe``, ``upgrade_net_proto_text``,
``upgrade_solver_proto_text``; on Debian 12, Debian 11's ``caffe`` package: see
bench/bench_lenet.py) and ../shared/original. The tests read the JSON it writes, so they
compare our parser, printer and Net with real Caffe's answers on machines without Caffe:

- ``parse``: for every original file and every rendered net and solver, whether Caffe's
  upgrade tool reads it (else the message it printed), and the sha256 of the text it writes
  back (C++ TextFormat of the upgraded message).
- ``nets``: for every original net (Data layers swapped for Input, as tests/original_nets.py
  does) and every rendered net without Python layers (swapped likewise), the blob shapes
  Caffe's Net gives in the TRAIN phase (the "Top shape" lines of its log), whether it built,
  and the fatal message of ``caffe time`` if its forward or backward pass refused.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _record import write_json  # noqa: E402
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
ORIGINAL = os.path.join(os.path.dirname(REPO), "shared", "original")
for path in (REPO, TESTS):
    if path not in sys.path:
        sys.path.insert(0, path)

TOP = re.compile(r"\] (\S+) -> (\S+)")
SETTING_UP = re.compile(r"\] Setting up (\S+)$")
SHAPE = re.compile(r"\] Top shape: ((?:\d+ )*)\((\d+)\)$")
FATAL = re.compile(r"^F\d{4} [\d:.]+ +\d+ (\S+)\] (.*)$")
PARSE_ERROR = re.compile(r"(Error parsing text-format [^\n]*)")


def run(cmd, timeout=600):
    env = dict(os.environ, GLOG_logtostderr="1", GLOG_minloglevel="0", OPENBLAS_NUM_THREADS="2")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def blob_shapes(log):
    """{blob: [dims]} from a Net's construction log (the last layer to write a blob wins)."""
    shapes, tops, pending = {}, {}, []
    for line in log.splitlines():
        m = TOP.search(line)
        if m and "Creating Layer" not in line:
            tops.setdefault(m.group(1), []).append(m.group(2))
            continue
        m = SETTING_UP.search(line)
        if m:
            pending = list(tops.get(m.group(1), []))
            continue
        m = SHAPE.search(line)
        if m and pending:
            shapes[pending.pop(0)] = [int(d) for d in m.group(1).split()]
    return shapes


def fatal(log):
    for line in log.splitlines():
        m = FATAL.match(line)
        if m:
            return f"{m.group(1)}] {m.group(2)}"
    return None


def caffe_parse(path, tool, tmp):
    out = os.path.join(tmp, "upgraded.prototxt")
    if os.path.exists(out):
        os.remove(out)
    rc, log = run([tool, path, out])
    error = PARSE_ERROR.search(log)
    ok = rc == 0 and os.path.exists(out)
    result = {"ok": ok}
    if ok:
        with open(out, "rb") as f:
            result["sha256"] = hashlib.sha256(f.read()).hexdigest()
    else:
        result["error"] = error.group(1) if error else (fatal(log) or log.strip().splitlines()[-1])
    return result


def caffe_net(param, tmp, name):
    from prototxt.io import to_text

    path = os.path.join(tmp, name.replace("/", "__"))
    with open(path, "w") as f:
        f.write(to_text(param))
    rc, log = run(["caffe", "time", "-model", path, "-phase", "TRAIN", "-iterations", "1"])
    return {"built": "Network initialization done." in log, "shapes": blob_shapes(log),
            "ran": rc == 0, "fatal": None if rc == 0 else fatal(log)}


def original_entries():
    from original_nets import swap_data_layers
    from test_original_nets import ORIGINAL_NETS

    return [(path, batch, swap_data_layers(os.path.join(ORIGINAL, path), batch))
            for path, batch, _ in ORIGINAL_NETS]


# Sample shape (C, H, W) of the data each rendered config's nets read, where the Data layer
# does not say it (Data layers read LMDBs); ImageNet crops are taken from transform_param.
SAMPLE = {"mnist_lenet": (1, 28, 28), "mnist_deep_students": (1, 28, 28), "cifar10_ts": (3, 32, 32), "cifar10_mini": (3, 32, 32),
          "cifar10_nin": (3, 32, 32), "examples": (3, 32, 32), "imagenet_alexnet_vgg16": (3, 256, 256)}


def rendered_sample_shape(config, name, param):
    if config == "examples" and name.startswith("vgg16"):
        return (3, 224, 224), 1
    channels, height, width = SAMPLE[config]
    for layer in param.layer:
        crop = layer.transform_param.crop_size
        if layer.type == "Data" and crop:
            height = width = crop
    return (channels, height, width), (1 if config == "imagenet_alexnet_vgg16" else 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(TESTS, "data", "real_caffe.json"))
    args = ap.parse_args()
    for tool in ("caffe", "upgrade_net_proto_text", "upgrade_solver_proto_text"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not on PATH: install real Caffe 1.0 (see bench/bench_lenet.py)")
    from google.protobuf import text_format

    from caffe_compat.proto import caffe_pb2
    from prototxt.netedit import swap_data_for_input
    from prototxt.render import list_configs, render_config

    rc, version = run(["caffe", "--version"])
    record = {"caffe": version.strip().splitlines()[-1] if version.strip() else "?",
              "parse": {}, "nets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for root, _, files in os.walk(ORIGINAL):
            for f in sorted(files):
                if f.endswith(".prototxt"):
                    path = os.path.join(root, f)
                    rel = os.path.relpath(path, ORIGINAL)
                    tool = "upgrade_solver_proto_text" if "solver" in f else "upgrade_net_proto_text"
                    record["parse"][f"original/{rel}"] = caffe_parse(path, tool, tmp)
        for rel, batch, param in original_entries():
            record["nets"][f"original/{rel}"] = dict(batch=batch, **caffe_net(param, tmp, rel))
            print("original", rel, record["nets"][f"original/{rel}"]["ran"], file=sys.stderr)
        for config in list_configs():
            for name, text in render_config(config).items():
                key = f"rendered/{config}/{name}"
                path = os.path.join(tmp, "rendered.prototxt")
                with open(path, "w") as f:
                    f.write(text)
                is_solver = name.endswith("_solver.prototxt")
                tool = "upgrade_solver_proto_text" if is_solver else "upgrade_net_proto_text"
                record["parse"][key] = caffe_parse(path, tool, tmp)
                if is_solver:
                    continue
                param = text_format.Parse(text, caffe_pb2.NetParameter())
                if any(layer.type == "Python" for layer in param.layer):
                    continue  # Caffe's Python layers would need pycaffe and our modules
                shape, batch = rendered_sample_shape(config, name, param)
                net = swap_data_for_input(param, shape, batch=batch, phase=caffe_pb2.TRAIN)
                record["nets"][key] = dict(batch=batch, sample_shape=list(shape),
                                           **caffe_net(net, tmp, f"{config}_{name}"))
                print(key, record["nets"][key]["ran"], file=sys.stderr)
    write_json(args.out, record)
    print(f"wrote {args.out}: {len(record['parse'])} files parsed, {len(record['nets'])} nets built")


if __name__ == "__main__":
    main()
