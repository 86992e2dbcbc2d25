"""Record real Caffe 1.0 running the published nets of tests/data/zoo (tests/zoo_nets.py).

    python tests/tools/record_real_caffe_zoo.py [--nets a,b] [--out tests/data/zoo_reference.json]

Needs ``caffe-python3`` (Caffe 1.0's pycaffe, Debian 11's package in a chroot whose /tmp is
this machine's: ../shared/tools/setup_caffe_chroot.sh). For each net:

1. the run prototxt (batch 1, force_backward, data layers as Input: zoo_nets.run_text) is
   written to /tmp/tscaffe_zoo/NET.prototxt;
2. real Caffe builds it (tools/_zoo_caffe_side.py probe) and reports each layer's
   parameter shapes, or refuses: its fatal message is recorded;
3. the seeded weights (zoo_checks.param_array, numpy only, so the tests regenerate them
   without Caffe) are written by caffe_compat.io as /tmp/tscaffe_zoo/NET.caffemodel (not
   kept: the seed regenerates it);
4. real Caffe loads them, runs Forward on the seeded inputs and Backward from seeded top
   diffs (_zoo_caffe_side.py run) and reports shape, sum, sum of squares, max |x| and four
   seeded projections of every blob's data and diff and of every parameter's data and diff.

With ``--nets`` only those nets are re-recorded; the others stay as they were.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
for path in (REPO, TESTS):
    if path not in sys.path:
        sys.path.insert(0, path)
import zoo_checks  # noqa: E402
import zoo_nets  # noqa: E402

TMP = "/tmp/tscaffe_zoo"
SIDE = os.path.join(HERE, "_zoo_caffe_side.py")
FATAL = re.compile(r"^F\d{4} [\d:.]+ +\d+ (\S+)\] (.*)$", re.M)
PARSE_ERROR = re.compile(r"(Error parsing text-format [^\n]*)")


def caffe_side(*args, timeout=1800):
    env = dict(os.environ, GLOG_logtostderr="1", GLOG_minloglevel="1", OPENBLAS_NUM_THREADS="2")
    proc = subprocess.run(["caffe-python3", SIDE] + list(args), capture_output=True, text=True,
                          env=env, timeout=timeout)
    if proc.returncode == 0:
        return json.loads(proc.stdout.strip().splitlines()[-1]), None
    # a text-format error first (Caffe's fatal line after it only says the file did not parse)
    m = PARSE_ERROR.search(proc.stderr) or FATAL.search(proc.stderr)
    if m is None:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
    return None, (f"{m.group(1)}] {m.group(2)}" if m.re is FATAL else m.group(1))


def write_weights(name, param, probed, path):
    from caffe_compat import io

    layers = zoo_nets.layer_params_by_name(param)
    arrays = OrderedDict()
    for layer_name, layer_type, shapes in probed["layers"]:
        if shapes:
            arrays[layer_name] = (layer_type, [
                zoo_checks.param_array(name, zoo_nets.param_key(layers[layer_name], k), layer_type, k, s)
                for k, s in enumerate(shapes)])
    io.save_caffemodel(path, arrays, name=param.name)


def record(name):
    spec = zoo_nets.NETS[name]
    os.makedirs(TMP, exist_ok=True)
    proto = os.path.join(TMP, name + ".prototxt")
    from google.protobuf.text_format import ParseError

    try:
        text = zoo_nets.run_text(name)
    except ParseError:  # not Caffe 1.0's format either: Caffe reads it as stored, and refuses
        text = zoo_nets.source_text(name)
    with open(proto, "w") as f:
        f.write(text)
    probed, refusal = caffe_side("probe", proto, spec["phase"])
    if refusal:
        return {"phase": spec["phase"], "refused": refusal}
    weights = os.path.join(TMP, name + ".caffemodel")
    write_weights(name, zoo_nets.run_param(name), probed, weights)
    job = os.path.join(TMP, name + ".spec.json")
    with open(job, "w") as f:
        json.dump({"name": name, "inputs": spec["inputs"]}, f)
    ran, refusal = caffe_side("run", proto, spec["phase"], weights, job)
    os.remove(weights)  # up to 0.5 GB; the seed regenerates it
    if refusal:
        return {"phase": spec["phase"], "refused": refusal}
    return {"phase": spec["phase"], "inputs": probed["inputs"], "outputs": probed["outputs"],
            "loss_weights": probed["loss_weights"], "blobs": ran["blobs"], "params": ran["params"]}


def write(path, nets):
    lines = [json.dumps(k) + ": " + json.dumps(v, sort_keys=True) for k, v in sorted(nets.items())]
    with open(path + ".tmp", "w") as f:
        f.write('{"seed": %d, "caffe": "1.0 (Debian 11 package, CPU)", "nets": {\n' % zoo_checks.SEED)
        f.write(",\n".join(lines))
        f.write("\n}}\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(TESTS, "data", "zoo_reference.json"))
    ap.add_argument("--nets", help="comma-separated subset (default: every net of zoo_nets.NETS)")
    args = ap.parse_args()
    names = args.nets.split(",") if args.nets else list(zoo_nets.NETS)
    nets = {}
    if args.nets and os.path.exists(args.out):
        with open(args.out) as f:
            nets = json.load(f)["nets"]
    for name in names:
        nets[name] = record(name)
        status = nets[name].get("refused") or f"{len(nets[name]['blobs'])} blobs"
        print(f"{name}: {status}", flush=True)
        write(args.out, nets)


if __name__ == "__main__":
    main()
