"""bench/run_all.py --quick prints its one table with every benchmark's rows (a smoke test of
the benchmark scripts: sizes are tiny, timings are not checked)."""
import os
import subprocess
import sys

from conftest import REPO, SHARED, need

EXPECTED_ROWS = [
    "LeNet fwd+bwd (Net, b64, 1 thread) vs Caffe 1.0",
    "LeNet solver iteration vs PyTorch CPU (1 thread)",
    "TS step (warm cache) / student-only step",
    "TS Net arrays / student",
    "LeNet step, Data (LMDB) / MemoryData",
    "teacher labelling loop (tscaffe label) / raw onnxruntime",
]


def test_run_all_quick_prints_the_table():
    need(SHARED / "datasets" / "mnist")
    need(SHARED / "teachers" / "advertorch_lenet5_clean.onnx")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run_all.py"), "--quick", "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    header = next(line for line in out.splitlines() if line.startswith("benchmark"))
    assert header.split() == ["benchmark", "ours", "baseline", "unit", "ratio", "target", "verdict"]
    table = out[out.index(header):]
    for name in EXPECTED_ROWS:
        assert name in table, f"row {name!r} missing from:\n{table}"
    assert "ERROR" not in table and "TIMEOUT" not in table, table
    # The TS benchmark ran on a warm cache: its timing row has a verdict, not an error.
    ts_line = next(line for line in table.splitlines() if line.startswith("TS step"))
    assert ts_line.rstrip().endswith(("PASS", "FAIL"))


def test_bench_nets_counts_lenets_gemms(tmp_path):
    """bench_nets' GEMM list for LeNet b64 (im2col form): forward, weight gradient and data
    gradient of every layer but the first, 0.844 GFLOP in all (the performance notes' figure)."""
    sys.path.insert(0, str(REPO / "bench"))
    import bench_nets

    from caffe_compat import TRAIN, Net

    path = bench_nets.write_net("lenet", str(tmp_path))
    shapes = bench_nets.gemm_shapes(Net(path, TRAIN))
    assert shapes == [
        (20, 25, 36864), (20, 36864, 25),
        (50, 500, 4096), (50, 4096, 500), (500, 50, 4096),
        (500, 800, 64), (500, 64, 800), (800, 500, 64),
        (10, 500, 64), (10, 64, 500), (500, 10, 64),
    ]
    flops = sum(2 * m * k * n for m, k, n in shapes)
    assert flops == bench_nets.gemm_flops(path) == 843648000
    row = {"net": "lenet", "threads": 1, "ours_ms": 10.0, "ours_range": "9-11",
           "ours_caffe_engine_ms": 12.0, "ours_caffe_engine_range": "11-13", "caffe_ms": 20.0,
           "caffe_range": "19-21", "torch_ms": None, "bound_ms": 5.0, "gemm_ms": 7.5,
           "gemm_gflop": 0.84, "sgemm_gflops": 170}
    table = bench_nets.markdown_table([row, dict(row, torch_ms=8.0)])
    assert "| lenet | 1 | 10.0 (9-11) | 12.0 (11-13) | 20.0 (19-21) | 0.60 | - | - | 5.0 | 2.00 | " \
        "7.5 (1.50) |" in table
    assert "| 20.0 (19-21) | 0.60 | 8.0 | 1.25 | 5.0 |" in table


def test_caffe_keeps_openblas_default_spin(monkeypatch):
    """The short OpenBLAS spin caffe_compat sets for its own threads is not handed to the
    real Caffe that bench_lenet times (its users run it with OpenBLAS's default)."""
    sys.path.insert(0, str(REPO / "bench"))
    import bench_lenet

    import caffe_compat

    seen = {}

    def fake_run(cmd, **kwargs):
        seen.update(kwargs["env"])
        return subprocess.CompletedProcess(cmd, 1, "", "")

    monkeypatch.setattr(bench_lenet.subprocess, "run", fake_run)
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "16")
    monkeypatch.setattr(caffe_compat, "_OPENBLAS_SPIN_SET_HERE", True)
    bench_lenet.caffe_time("caffe", "net.prototxt", 1, threads=2)
    assert "OPENBLAS_THREAD_TIMEOUT" not in seen and seen["OPENBLAS_NUM_THREADS"] == "2"
    monkeypatch.setattr(caffe_compat, "_OPENBLAS_SPIN_SET_HERE", False)  # the user's own setting
    bench_lenet.caffe_time("caffe", "net.prototxt", 1, threads=2)
    assert seen["OPENBLAS_THREAD_TIMEOUT"] == "16"


def test_bench_nets_counts_the_data_gradient_with_force_backward(tmp_path):
    """A net with force_backward (the published ones bench_nets runs) makes Caffe compute the
    data's gradient too: its first convolution has three GEMMs, not two."""
    sys.path.insert(0, str(REPO / "bench"))
    import bench_nets

    from caffe_compat import TRAIN, Net

    path = bench_nets.write_net("squeezenet_v1.1", str(tmp_path))
    shapes = bench_nets.gemm_shapes(Net(path, TRAIN))
    # conv1: 64 filters of 3x3x3, stride 2 on 227x227 -> 113x113
    assert shapes[:3] == [(64, 27, 113 * 113), (64, 113 * 113, 27), (27, 64, 113 * 113)]


def test_distill_table_shows_each_rows_median_seed():
    """readme_results' teachers table: a row run with seeds 1-3 shows the run of the median
    agreement and every seed's; a rollback in any seed's run makes the row missed."""
    sys.path.insert(0, str(REPO / "bench"))
    import readme_results

    def run(seed, agreement, rollbacks=0, teacher="mnist_x1"):
        return {"teacher": teacher, "student": "lenet", "seed": seed, "agreement": agreement,
                "kl": agreement / 100, "accuracy": 0.99, "rollbacks": rollbacks,
                "iterations_run": 1000 * seed, "base_lr": 0.01, "train_seconds": 10.0,
                "budget": {}, "note": "n"}

    rows = [run(2, 0.9963), run(1, 0.9948), run(3, 0.9955), run(1, 0.9960, teacher="mnist_x30"),
            run(2, 0.9970, rollbacks=1, teacher="mnist_x30")]
    groups = readme_results.seed_groups(rows)
    assert [(g["teacher"], g["seed"], seeds) for g, seeds in groups] == [
        ("mnist_x1", 3, [(1, 0.9948), (2, 0.9963), (3, 0.9955)]),
        ("mnist_x30", 1, [(1, 0.9960), (2, 0.9970)])]
    table = readme_results.teachers_table({"date": "d", "machine": "m", "rows": rows})
    x1 = next(line for line in table.splitlines() if line.startswith("| mnist_x1 "))
    assert "| 0.9955 | 1: 0.9948, 2: 0.9963, 3: 0.9955 | ≥ 0.995: met |" in x1
    assert "| 3,000 |" in x1                        # the median run's own numbers
    x30 = next(line for line in table.splitlines() if line.startswith("| mnist_x30 "))
    assert "**missed**" in x30                      # seed 2's rollback counts


def test_teacher_margins_bands_by_hand():
    """bench/teacher_margins.py's table on four hand-made teacher rows (spread 10 each, margins
    0.1, 0.4, 1.5 and 5: bands 0-0.02, 0.02-0.05, 0.1-0.2 and >= 0.2 of the spread) and a
    student that flips only the first two."""
    sys.path.insert(0, str(REPO / "bench"))
    import numpy as np
    import teacher_margins

    t = np.array([[10.0, 9.9, 0.0], [10.0, 9.6, 0.0], [0.0, 8.5, 10.0], [5.0, 0.0, 10.0]])
    labels = np.array([0, 1, 2, 2])
    s = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    margin, spread = teacher_margins.margins(t)
    np.testing.assert_allclose(margin, [0.1, 0.4, 1.5, 5.0], atol=1e-12)
    assert spread == 10.0
    lines = teacher_margins.table(t, labels, s)
    assert lines[0].startswith("teacher test accuracy 0.7500")
    assert lines[1] == "student top-1 agreement 0.5000 (2 images disagree)"
    rows = [l for l in lines if l.startswith("| ") and "margin" not in l]
    assert rows == ["| 0 - 0.02 | 0.2500 | 0.0000 | 1 |", "| 0.02 - 0.05 | 0.2500 | 0.0000 | 1 |",
                    "| 0.05 - 0.1 | 0.0000 | - | 0 |", "| 0.1 - 0.2 | 0.2500 | 1.0000 | 0 |",
                    "| >= 0.2 | 0.2500 | 1.0000 | 0 |"]


def test_contention_side_by_side_runs_both_modes_at_once(tmp_path):
    """bench_contention's side-by-side pair: both processes report; and a held child does not
    finish after its timed iterations until the other's mark is there."""
    import json
    import time

    sys.path.insert(0, str(REPO / "bench"))
    import bench_contention
    import bench_nets

    path = bench_nets.write_net("lenet", str(tmp_path))
    one = {"TSCAFFE_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = bench_contention.run_side_by_side(path, 3, {"a": one, "b": one}, ["a", "b"])
    assert sorted(out) == ["a", "b"]
    for r in out.values():
        assert r["ms"] > 0 and r["final_threads"] == 1

    hold = tmp_path / "hold"
    hold.mkdir()
    proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "bench_contention.py"),
                             "--child", path, "--iters", "2", "--hold", str(hold),
                             "--hold-count", "2"], env=bench_contention.child_env(one),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(hold.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(hold.iterdir())) == 1          # its own mark: timed iterations done
    time.sleep(1.0)
    assert proc.poll() is None                       # still holding, iterating untimed
    (hold / "done-other").write_text("")
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and json.loads(stdout.strip().splitlines()[-1])["ms"] > 0
