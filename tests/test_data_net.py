"""The Data layer inside a Net: Caffe's trainlog net reads the fixture LMDB and its first
TRAIN and TEST outputs equal the values Caffe logged (train.log)."""
import re

import numpy as np
import pytest

from conftest import CAFFE_REF, need

TRAINLOG = CAFFE_REF / "trainlog"


def logged(pattern):
    text = (TRAINLOG / "train.log").read_text()
    return [float(v) for v in re.findall(pattern, text)]


@pytest.mark.parametrize("phase", [0, 1])
def test_trainlog_net_first_batch_matches_caffe(phase, monkeypatch):
    need(TRAINLOG / "train.log")
    import caffe_compat

    monkeypatch.chdir(TRAINLOG)  # the prototxt's source path is relative, as in Caffe
    net = caffe_compat.Net("net.prototxt", "init.caffemodel", phase)
    try:
        out = net.forward()
        if phase == 0:
            # "Iteration 0 ... Train net output #0: loss = 2.321" (first batch, records 0..63)
            want = logged(r"Train net output #0: loss = ([0-9.e+-]+)")[0]
            assert float(out["loss"]) == pytest.approx(want, abs=1e-5)
            assert np.array_equal(net.blobs["label"].data[:20],
                                  np.load(CAFFE_REF / "formats/mnist_lmdb/expected.npz")["labels"])
        else:
            # The test score is the mean over test_iter 6 batches of 100 (all 600 records).
            acc, loss = [], []
            for i in range(6):
                if i:
                    out = net.forward()
                acc.append(float(out["accuracy"]))
                loss.append(float(out["loss"]))
            assert np.mean(acc) == pytest.approx(logged(r"Test net output #0: accuracy = ([0-9.e+-]+)")[0], abs=1e-6)
            assert np.mean(loss) == pytest.approx(logged(r"Test net output #1: loss = ([0-9.e+-]+)")[0], abs=1e-5)
    finally:
        for layer in net.layers:
            if hasattr(layer, "close"):
                layer.close()
