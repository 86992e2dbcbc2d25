"""Our caffe.proto against real Caffe's schema, fact by fact: every message and enum of the
caffe_pb2 module that Caffe's Python package ships (Debian 11's python3-caffe, BVLC master
99bd997), with every field's number, label, type, message/enum type and default, and every
enum value — recorded in tests/data/caffe_schema_facts.json by
tests/tools/record_caffe_schema.py. Ours must have exactly those, nothing more or less.
"""
import json

import numpy as np
import pytest
from google.protobuf import descriptor_pb2

from caffe_compat.proto import caffe_pb2
from conftest import REPO

RECORD = json.loads((REPO / "tests" / "data" / "caffe_schema_facts.json").read_text())
FLOAT_TYPES = (descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
               descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE)


def our_facts():
    import sys

    sys.path.insert(0, str(REPO / "tests" / "tools"))
    from record_caffe_schema import facts

    fd = descriptor_pb2.FileDescriptorProto()
    caffe_pb2.DESCRIPTOR.CopyToProto(fd)
    assert fd.package == RECORD["package"] == "caffe"
    return facts(fd)


OURS = our_facts()


def test_same_messages_and_enums():
    assert sorted(OURS) == sorted(RECORD["facts"])


def _same_default(field_type, ours, caffe):
    if field_type in FLOAT_TYPES and ours and caffe:
        # protoc prints float defaults its own way ('1e-05' vs '9.99999975e-06'): compare the
        # float32 values they stand for.
        return np.float32(float(ours)) == np.float32(float(caffe))
    return ours == caffe


@pytest.mark.parametrize("name", sorted(RECORD["facts"]))
def test_message_or_enum_equals_caffes(name):
    caffe, ours = RECORD["facts"][name], OURS.get(name)
    assert ours is not None, f"{name} missing from our caffe.proto"
    assert sorted(ours) == sorted(caffe), f"{name}: fields or values differ"
    for key, want in caffe.items():
        got = ours[key]
        if isinstance(want, int):  # an enum value's number
            assert got == want, f"{name}.{key} = {got}, Caffe's is {want}"
            continue
        number, label, ftype, type_name, default = want
        assert got[:4] == [number, label, ftype, type_name], \
            f"{name}.{key}: (number, label, type, type name) {got[:4]}, Caffe's {want[:4]}"
        assert _same_default(ftype, got[4], default), \
            f"{name}.{key}: default {got[4]!r}, Caffe's {default!r}"
