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
                          capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
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
