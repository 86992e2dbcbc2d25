"""Record the facts of real Caffe's schema (every message, enum, field number, label, type and
default) from the caffe_pb2.py that Caffe's Python package ships, as JSON for
tests/test_schema_facts.py.

    apt-get download -t bullseye python3-caffe && dpkg-deb -x python3-caffe_*.deb /tmp/pc
    python tests/tools/record_caffe_schema.py /tmp/pc/usr/lib/python3/dist-packages/caffe/proto/caffe_pb2.py

(Debian 11's python3-caffe, built from BVLC master 99bd997.) Only facts are kept, in our own
layout: no part of the generated module is stored.
"""
import ast
import os
import re
import sys

from google.protobuf import descriptor_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _record import write_json  # noqa: E402
OUT = os.path.join(os.path.dirname(HERE), "data", "caffe_schema_facts.json")


def facts(fd):
    """{message or enum full name: {field: [number, label, type, type_name, default]} or
    {value name: number}} of a FileDescriptorProto."""
    out = {}

    def walk(messages, prefix):
        for m in messages:
            name = prefix + m.name
            out[name] = {f.name: [f.number, f.label, f.type, f.type_name, f.default_value]
                         for f in m.field}
            for e in m.enum_type:
                out[f"{name}.{e.name}"] = {v.name: v.number for v in e.value}
            walk(m.nested_type, name + ".")

    walk(fd.message_type, "")
    for e in fd.enum_type:
        out[e.name] = {v.name: v.number for v in e.value}
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = open(sys.argv[1], encoding="utf-8").read()
    m = re.search(r"serialized_pb=(b'.*?')\n", src, re.S)
    if not m:
        sys.exit(f"{sys.argv[1]}: no serialized descriptor found")
    fd = descriptor_pb2.FileDescriptorProto()
    fd.ParseFromString(ast.literal_eval(m.group(1)))
    write_json(OUT, {"package": fd.package, "facts": facts(fd)})
    print(f"wrote {OUT}: {len(facts(fd))} messages and enums")


if __name__ == "__main__":
    main()
