"""Record what Caffe 1.0's upgrade tools write for the inputs of tests/upgrade_cases.py.

    python tests/tools/record_upgrade.py [--out tests/data/upgrade_real.json]

Needs ``upgrade_net_proto_text`` and ``upgrade_solver_proto_text`` on PATH (Debian's caffe
package). Per case: the input text, the tool's exit status, the file it wrote (or null) and
the tool's fatal message when it refused (glog's ``F...`` line, without its prefix).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, HERE)


def run_tool(tool, text, tmpdir, name):
    src = os.path.join(tmpdir, name + ".in.prototxt")
    dst = os.path.join(tmpdir, name + ".out.prototxt")
    with open(src, "w") as f:
        f.write(text)
    proc = subprocess.run([tool, src, dst], capture_output=True, text=True, timeout=120)
    fatal = [re.sub(r"^F\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ", "", line)
             for line in proc.stderr.splitlines() if re.match(r"^F\d{4} ", line)]
    output = None
    if os.path.exists(dst):
        with open(dst) as f:
            output = f.read()
    return {"input": text, "rc": proc.returncode, "output": output, "fatal": fatal[0] if fatal else None}


def main(argv=None):
    import upgrade_cases
    from _record import write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "data", "upgrade_real.json"))
    args = parser.parse_args(argv)
    record = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, text in upgrade_cases.NETS.items():
            record[name] = dict(run_tool("upgrade_net_proto_text", text, tmpdir, name), kind="net")
        for name, text in upgrade_cases.SOLVERS.items():
            record[name] = dict(run_tool("upgrade_solver_proto_text", text, tmpdir, name), kind="solver")
    write_json(args.out, record)
    print(f"wrote {args.out}: {len(record)} cases")


if __name__ == "__main__":
    main()
