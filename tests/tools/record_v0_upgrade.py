"""Record real Caffe 1.0 upgrading the V0 nets of tests/data/v0 (and the zoo's caffenet_v0).

    python tests/tools/record_v0_upgrade.py [--out tests/data/v0_upgrade.json]

Needs Caffe's ``upgrade_net_proto_text`` on PATH (Debian 11's caffe in a chroot whose /tmp
is this machine's). For each file: the upgraded text Caffe writes, the error lines it logs
("Unknown parameter ..." for V0 fields with no place in the layer's type), or the fatal
message when it refuses (a padding layer read by a ReLU, an unknown type name...).
tests/test_upgrade_v0.py compares caffe_compat's upgrade with these answers.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _record import write_json  # noqa: E402

DATA = os.path.join(os.path.dirname(HERE), "data")
LINE = re.compile(r"^([EF])\d{4} [\d:.]+ +\d+ \S+\] (.*)$")


def record(path):
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        out = os.path.join(tmp, "upgraded.prototxt")
        env = dict(os.environ, GLOG_logtostderr="1")
        proc = subprocess.run(["upgrade_net_proto_text", path, out], capture_output=True,
                              text=True, env=env, timeout=120)
        errors, fatal = [], None
        for line in proc.stderr.splitlines():
            m = LINE.match(line)
            if m and m.group(1) == "E":
                errors.append(m.group(2))
            elif m:
                fatal = m.group(2)
        if fatal or not os.path.exists(out):
            return {"refused": fatal or f"exit {proc.returncode}", "errors": errors}
        # exit status 1: upgraded with problems ("Unknown parameter ..."), written anyway
        with open(out) as f:
            return {"text": f.read(), "errors": errors, "exit": proc.returncode}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(DATA, "v0_upgrade.json"))
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(DATA, "v0", "*.prototxt")))
    files.append(os.path.join(DATA, "zoo", "caffenet_v0.prototxt"))
    cases = {}
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        cases[name] = record(path)
        print(name, cases[name].get("refused", "upgraded"), len(cases[name]["errors"]), "errors")
    write_json(args.out, cases)


if __name__ == "__main__":
    main()
