"""The main job's pipeline on a tiny budget: every output exists and parses."""
import glob
import json
import os
import re

import numpy as np
import onnxruntime as ort

from conftest import CAFFE_REF, need
from prototxt import read_net, read_solver
from solver.parse_log import parse_log


def check_outputs(out, students):
    assert os.path.exists(os.path.join(out, "report.md"))
    report = json.load(open(os.path.join(out, "report.json")))
    assert len(report["students"]) == students
    for path in glob.glob(os.path.join(out, "*.prototxt")):
        (read_solver if path.endswith("_solver.prototxt") else read_net)(path)
    logs = [p for p in glob.glob(os.path.join(out, "*.log"))
            if os.path.basename(p) != "reproduce.log"]  # the job's progress lines
    assert len(logs) == students + 1
    for log in logs:
        train, test = parse_log(log)
        assert train, f"{log}: no training rows"
    for path in glob.glob(os.path.join(out, "*.onnx")):
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        shape = [1] + [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape[1:]]
        (out_arr,) = sess.run(None, {sess.get_inputs()[0].name: np.zeros(shape, np.float32)})
        assert out_arr.shape[0] == 1
    for plot in report["plots"]:
        from PIL import Image

        Image.open(plot).verify()
    return report


def test_reproduce_mnist_tiny(tmp_path, capsys):
    from solver.cli import main

    out = str(tmp_path / "mnist")
    rc = main(["reproduce", "mnist", "--iterations", "20", "--teacher-iterations", "30",
               "--lambdas", "0,0.5,1", "--subset", "640,200", "-o", out])
    assert rc == 0
    report = check_outputs(out, students=5)  # 2017: λ 0, .5, 1; KD: .5, 1 (no labels)
    names = [s["name"] for s in report["students"]]
    assert "student_kd_l1_nolabels" in names
    nolabels = report["students"][names.index("student_kd_l1_nolabels")]
    assert nolabels["labels_used"] is False
    # The 2017 loss starts near 0.73 per class (10 outputs: ~7.3) and barely falls; KD falls.
    by_name = dict(zip(names, report["students"]))
    sce = by_name["student_2017_l1_nolabels"]
    assert 7.2 < sce["ts_loss_first"] < 7.45
    assert sce["ts_loss_last"] > 0.95 * sce["ts_loss_first"]
    kd = by_name["student_kd_l1_nolabels"]
    assert kd["ts_loss_last"] < 0.5 * kd["ts_loss_first"]
    text = open(os.path.join(out, "report.md")).read()
    assert "| run | loss |" in text and "barely falls" in text
    assert sum(line.startswith("| run |") for line in text.splitlines()) == 1
    profile = nolabels["choices"][0]
    assert profile.startswith("Teacher on ") and text.count(profile) == 1
    assert [os.path.basename(p) for p in report["plots"]] == [
        "agreement.png", "students.png", "students_normalized.png"]
    captured = capsys.readouterr()
    assert "teacher accuracy=" in captured.out
    # The job's progress: after the teacher and after each of the 5 students, on the
    # terminal and in OUT/reproduce.log.
    # (Lines of a run in progress, "(N/M iterations)", come every minute: left out here.)
    progress = re.compile(r"tscaffe reproduce mnist: students (\d)/5 done, elapsed \S+, "
                          r"ETA \S+(?:; now: \S+ \((\d+/)?\d+ iterations\))?$", re.M)
    shown = [int(m.group(1)) for m in progress.finditer(captured.err) if not m.group(2)]
    assert shown == [0, 0, 1, 2, 3, 4, 5]
    logged = open(os.path.join(out, "reproduce.log")).read()
    assert [m.group(0) for m in progress.finditer(logged)] == [
        m.group(0) for m in progress.finditer(captured.err)]


def test_reproduce_cifar10_without_files_says_where(tmp_path, capsys):
    from solver.cli import main

    rc = main(["reproduce", "cifar10", "-o", str(tmp_path / "c")])
    assert rc != 0
    err = capsys.readouterr().err
    assert "data_batch_1.bin" in err and "--data" in err
    rc = main(["reproduce", "cifar10", "--data", str(tmp_path), "-o", str(tmp_path / "c")])
    assert rc != 0
    assert "data_batch_1.bin" in capsys.readouterr().err


def test_reproduce_cifar10_tiny_on_fixture_batches(tmp_path):
    from solver.cli import main

    data = need(CAFFE_REF / "formats" / "cifar_bin" / "input")
    out = str(tmp_path / "cifar")
    rc = main(["reproduce", "cifar10", "--data", str(data), "--iterations", "2",
               "--teacher-iterations", "2", "--lambdas", "0,1", "-o", out])
    assert rc == 0
    check_outputs(out, students=5)  # ts_cifar10 λ 0, 1; mini alone, ts_mini 2017, ts_mini KD
