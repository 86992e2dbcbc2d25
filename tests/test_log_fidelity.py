"""Our ``tscaffe train`` log against Caffe's train.log, line by line (construction included).

The run is test_solver_trainlog's (same fixtures: ``caffe train -solver solver.prototxt
-weights init.caffemodel`` on ../shared/caffe-reference/trainlog). With the glog prefix's
date, time and thread stripped, every line Caffe wrote from net.cpp, layer_factory.hpp,
db_lmdb.cpp, data_layer.cpp, solver.cpp, sgd_solver.cpp and caffe.cpp must be in ours, in
the same order, from the same file:line, with the same text: numbers within print precision
(rtol 1e-4), shapes and "Memory required for data" figures exact, the timing of the display
lines aside. The DebugString dumps (solver and nets) must be Caffe's line for line.
"""
import re

import numpy as np

from conftest import CAFFE_REF, need
from test_solver_trainlog import our_log, trained  # noqa: F401  (module fixtures)

GLOG = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ ([\w.]+):(\d+)\] (.*)$")
SOURCES = ("net.cpp", "layer_factory.hpp", "db_lmdb.cpp", "data_layer.cpp", "solver.cpp",
           "sgd_solver.cpp", "caffe.cpp")
NUMBER = re.compile(r"[-+]?\d+\.?\d*(?:e[-+]?\d+)?")
KNOWN_MISSING = ()


def entries(text):
    """[(file:line or None for a continuation line, message)], tool lines and dumps only."""
    out = []
    keep = False
    for line in text.splitlines():
        m = GLOG.match(line)
        if m:
            keep = m.group(1) in SOURCES
            if keep:
                msg = m.group(3)
                if " iter/s, " in msg:  # timings differ
                    msg = re.sub(r"\(.* iters\)", "(timing)", msg)
                out.append((f"{m.group(1)}:{m.group(2)}", msg))
        elif keep and line not in KNOWN_MISSING:
            out.append((None, line))
    return out


def same_message(ours, caffe):
    if ours == caffe:
        return True
    if caffe.startswith(("Top shape", "Memory required", "output data size")):
        return False  # shapes and byte counts: exact
    if NUMBER.sub("#", ours) != NUMBER.sub("#", caffe):
        return False
    a = [float(x) for x in NUMBER.findall(ours)]
    b = [float(x) for x in NUMBER.findall(caffe)]
    return np.allclose(a, b, rtol=1e-4, atol=0)


def test_every_caffe_line_in_order(our_log):
    caffe = entries(need(CAFFE_REF / "trainlog/train.log").read_text())
    ours = entries(our_log)
    assert len(caffe) > 650
    mismatches = []
    for k, (c, o) in enumerate(zip(caffe, ours)):
        if c[0] != o[0] or not same_message(o[1], c[1]):
            mismatches.append((k, c, o))
    assert not mismatches[:5], mismatches[:5]
    assert len(ours) == len(caffe), (ours[len(caffe):][:3], caffe[len(ours):][:3])


def test_memory_figures_are_caffes_sums(our_log):
    """"Memory required for data" = 4 bytes x the running sum of top counts (exact)."""
    ours = [m for s, m in entries(our_log) if s == "net.cpp:139"]
    caffe = [m for s, m in entries(need(CAFFE_REF / "trainlog/train.log").read_text())
             if s == "net.cpp:139"]
    assert ours == caffe
    assert ours[0] == "Memory required for data: 200960"  # 64*1*28*28 + 64 floats
    assert ours[-1] == "Memory required for data: 3377612"


# The 2017 experiment's R scripts are not in ../shared (only their outputs and graphs); these
# are the patterns such scripts apply to Caffe logs (POSIX ERE, as R's regexpr/regmatches).
R_PATTERNS = {
    "test_iter": r"Iteration ([0-9]+), Testing net \(#0\)",
    "accuracy": r"Test net output #0: accuracy = ([0-9.e+-]+)",
    "test_loss": r"Test net output #1: loss = ([0-9.e+-]+)",
    "train_iter_loss": r"Iteration ([0-9]+) \(.*\), loss = ([0-9.e+-]+)",
    "train_loss": r"Train net output #0: loss = ([0-9.e+-]+)",
    "lr": r"Iteration ([0-9]+), lr = ([0-9.e+-]+)",
}


def r_extract(text, pattern):
    return [[float(g) for g in m.groups()] for m in re.finditer(pattern, text)]


def test_r_script_patterns_read_our_log(our_log):
    caffe = need(CAFFE_REF / "trainlog/train.log").read_text()
    for name, pattern in R_PATTERNS.items():
        a, b = r_extract(our_log, pattern), r_extract(caffe, pattern)
        assert len(a) == len(b) > 0, name
        np.testing.assert_allclose(a, b, rtol=1e-4, err_msg=name)


def test_parse_log_reads_our_log(our_log, trained):
    from solver.parse_log import parse_log

    ref, work = trained
    path = work / "fidelity.log"
    path.write_text(our_log)
    train, test = parse_log(str(path))
    c_train, c_test = parse_log(str(ref / "train.log"))
    assert [r["NumIters"] for r in test] == [r["NumIters"] for r in c_test] == [0, 20, 40, 60]
    assert [r["NumIters"] for r in train] == [r["NumIters"] for r in c_train]
    for mine, theirs in zip(test, c_test):
        assert list(mine) == list(theirs)
        np.testing.assert_allclose(mine["accuracy"], theirs["accuracy"], rtol=1e-4)
