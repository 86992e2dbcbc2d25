"""tscaffe distill end to end: the client's MNIST teacher (trained in another framework)
teaches a LeNet student with no labels at all, on a subset small enough for CI."""
import numpy as np
import onnxruntime as ort
import pytest

import caffe_compat as caffe
from conftest import DATASETS, TEACHERS, need
from prototxt import read_net


def test_client_teacher_teaches_lenet_without_labels(tmp_path, capsys):
    from solver.cli import main

    teacher = need(TEACHERS / "advertorch_lenet5_clean.onnx")
    data = need(DATASETS / "mnist")
    out = tmp_path / "run"
    rc = main(["distill", "--teacher", str(teacher), "--data", str(data), "--no-labels",
               "--iterations", "300", "--subset", "6400,1000", "-o", str(out)])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    values = dict(kv.split("=") for kv in last.split())
    print(last)
    assert float(values["agreement"]) > 0.97, last
    assert float(values["accuracy"]) > 0.95, last

    # No labels reached training: the TRAIN data layer gives only the images.
    ts = read_net(str(out / "distill_ts.prototxt"))
    train_data = [l for l in ts.layer if l.type == "Data" and l.include[0].phase == caffe.TRAIN]
    assert [list(l.top) for l in train_data] == [["data"]]
    assert not any(l.type == "SoftmaxWithLoss" for l in ts.layer)

    # The student's caffemodel loads into the student net, and its ONNX export agrees.
    net = caffe.Net(str(out / "distill_student.prototxt"), caffe.TEST,
                    weights=str(out / "distill_student.caffemodel"))
    net.forward()
    sess = ort.InferenceSession(str(out / "distill_student.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, {"data": net.blobs["data"].data})
    np.testing.assert_allclose(logits, net.blobs["ip_s2"].data, rtol=1e-5, atol=1e-4)
    acc = float(net.blobs["accuracy"].data)
    assert acc > 0.9


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    from solver.cli import main

    teacher = need(TEACHERS / "advertorch_lenet5_clean.onnx")
    rc = main(["distill", "--teacher", str(teacher), "--data", str(tmp_path / "nope"),
               "-o", str(tmp_path / "o")])
    assert rc == 1
    assert "no such folder" in capsys.readouterr().err
    rc = main(["distill", "--teacher", str(tmp_path / "missing.onnx"), "--subset", "64,100",
               "--iterations", "1", "-o", str(tmp_path / "o2")])
    assert rc == 1
    assert "missing.onnx" in capsys.readouterr().err
