"""Several teachers of different contracts blended in one run: --teacher-params once per
--teacher (in their order), or once for all (solver.teacher.user_params.check_teacher_params,
solver.distill.teacher_step.teacher_config)."""
import numpy as np
import onnxruntime as ort
import pytest

import teacher_variants as tv
from caffe_compat.errors import CaffeError
from solver.teacher.user_params import check_teacher_params


class Spec:
    """The student data's facts teacher_config reads: raw MNIST pixels scaled by 1/256."""
    transform = {"scale": 1 / 256}
    num_classes = 10
    root = "/nowhere"


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_two_teachers_with_their_own_contracts_blend(client, tmp_path):
    from solver.distill.teacher_step import teacher_config
    from solver.teacher.builder import cached_teacher

    unit = tv.unit_range_input(client, str(tmp_path / "unit.onnx"))     # wants [0, 1]
    params = check_teacher_params(['{}', '{"scale": 0.00392156862745098}'], 2)
    cfg = teacher_config([client, unit], Spec, params, blend="prob", cache=False)
    assert [t.get("scale") for t in cfg["teachers"]] == [None, 0.00392156862745098]
    teacher = cached_teacher(cfg, (1, 28, 28))
    raw = np.random.default_rng(5).integers(0, 256, (4, 1, 28, 28)).astype(np.float32)
    got = teacher.logits(raw / 256)
    run = lambda path, x: ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"data": x.astype(np.float32)})[0]
    z1, z2 = run(client, raw), run(unit, raw / 255)
    want = np.log((softmax(z1.astype(np.float64)) + softmax(z2.astype(np.float64))) / 2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_one_value_is_every_teachers():
    assert check_teacher_params(['{"scale": 2}'], 3) == {"scale": 2}
    assert check_teacher_params(None, 3) is None


@pytest.mark.parametrize("values, message", [
    (['{}', '{}'], "--teacher-params given 2 times for 3 --teacher models: give it once"),
    (['{}', '{"stdev": 1}', '{}'], "--teacher-params #2: unknown key 'stdev' (did you mean "
                                   "'std'?)"),
])
def test_per_teacher_values_are_checked_by_position(values, message):
    with pytest.raises(CaffeError) as e:
        check_teacher_params(values, 3)
    assert message in str(e.value)


def test_distill_takes_one_params_per_teacher(client, mnist, tmp_path, capsys):
    from solver.cli import main

    unit = tv.unit_range_input(client, str(tmp_path / "unit.onnx"))
    rc = main(["distill", "--teacher", client, "--teacher", unit, "--teacher-params", "{}",
               "--teacher-params", '{"scale": 0.00392156862745098}', "--data", mnist,
               "--no-labels", "--iterations", "2", "--subset", "256,100",
               "-o", str(tmp_path / "run")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "agreement=" in out.strip().splitlines()[-1]


def test_label_command_takes_one_params_per_teacher():
    import argparse

    from solver.commands import label

    parser = argparse.ArgumentParser()
    label.add_arguments(parser)
    args = parser.parse_args(["--teacher", "a.onnx", "--teacher", "b.onnx", "--data", "db",
                              "--teacher-params", '{"mean": 10}',
                              "--teacher-params", '{"layout": "NHWC"}'])
    specs = label.teacher_params(args)["teachers"]
    assert [(s["onnx"], s.get("mean"), s.get("layout")) for s in specs] == [
        ("a.onnx", 10, None), ("b.onnx", None, "NHWC")]
    assert all(s["unscale"] == 256.0 for s in specs)
    args = parser.parse_args(["--teacher", "a.onnx", "--teacher", "b.onnx", "--data", "db",
                              "--teacher-params", '{"mean": 10}'])
    assert [s.get("mean") for s in label.teacher_params(args)["teachers"]] == [10, 10]
