"""tscaffe distill end to end: the client's MNIST teacher (trained in another framework)
teaches a LeNet student with no labels at all, on a subset small enough for CI."""
import numpy as np
import onnxruntime as ort

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

    # Fidelity is printed as Caffe's "Test net output" lines.
    log = (out / "distill.log").read_text()
    assert "] Iteration 300, Testing net (#0)" in log
    outputs = [line for line in log.splitlines() if "] " in line and "Test net output #" in line]
    for name in ("agreement_top1", "agreement_top5", "kl", "accuracy"):
        assert any(f": {name} = " in line for line in outputs), name

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


def test_own_student_prototxt_is_spliced_into_the_ts_net(tmp_path, capsys):
    from solver.cli import main

    teacher = need(TEACHERS / "advertorch_lenet5_clean.onnx")
    data = need(DATASETS / "mnist")
    student = tmp_path / "tiny.prototxt"
    student.write_text('''name: "tiny"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 28 dim: 28 } } }
layer { name: "c1" type: "Convolution" bottom: "x" top: "c1"
  convolution_param { num_output: 4 kernel_size: 5 stride: 2 weight_filler { type: "msra" } } }
layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" }
layer { name: "fc" type: "InnerProduct" bottom: "c1" top: "fc"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
''')
    out = tmp_path / "run"
    rc = main(["distill", "--teacher", str(teacher), "--data", str(data), "--student-prototxt",
               str(student), "--iterations", "40", "--subset", "640,200", "-o", str(out)])
    assert rc == 0
    ts = read_net(str(out / "distill_ts.prototxt"))
    names = [l.name for l in ts.layer]
    assert names[:3] == ["data"] * 3    # TRAIN, the test split, the held-out slice
    assert names[3:6] == ["c1", "r1", "fc"] and "conv_s1" not in names
    assert ts.layer[3].bottom[0] == "data"
    kd = next(l for l in ts.layer if l.name == "ts_loss")
    assert list(kd.bottom) == ["fc", "teacher_logits"]
    sess = ort.InferenceSession(str(out / "distill_student.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["fc"]
    assert "agreement=" in capsys.readouterr().out.strip().splitlines()[-1]
