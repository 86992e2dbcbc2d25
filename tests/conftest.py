"""Shared test fixtures: where ../shared is, and skipping cleanly when it is absent."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TSCAFFE_SHARED", REPO.parent / "shared"))
CAFFE_REF = SHARED / "caffe-reference"
ORIGINAL = SHARED / "original"
DATASETS = SHARED / "datasets"
TEACHERS = SHARED / "teachers"


def need(path):
    """Skip the calling test with a one-line reason if ``path`` is absent."""
    path = Path(path)
    if not path.exists():
        pytest.skip(f"needs {path} (shared fixtures absent)")
    return path


@pytest.fixture(scope="session")
def trainlog_run(tmp_path_factory):
    """``tscaffe train -solver solver.prototxt -weights init.caffemodel``, run once per session
    on ../shared/caffe-reference/trainlog from a folder laid out like the fixture's
    (``../formats`` links to the fixture's, so the net's relative LMDB path resolves; nothing
    is written into ../shared). Returns (fixture folder, work folder, the run's stderr log)."""
    import shutil
    import subprocess
    import sys

    ref = need(CAFFE_REF / "trainlog")
    root = tmp_path_factory.mktemp("trainlog_run")
    (root / "formats").symlink_to(CAFFE_REF / "formats", target_is_directory=True)
    work = root / "trainlog"
    work.mkdir()
    for name in ("solver.prototxt", "net.prototxt"):
        shutil.copyfile(ref / name, work / name)
    (work / "init.caffemodel").symlink_to(ref / "init.caffemodel")
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "solver", "train", "-solver", "solver.prototxt",
         "-weights", "init.caffemodel"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return ref, work, proc.stderr


@pytest.fixture(scope="session")
def client():
    """The shared client teacher (ONNX, raw pixels in, logits out)."""
    return str(need(TEACHERS / "advertorch_lenet5_clean.onnx"))


@pytest.fixture(scope="session")
def mnist():
    """The full MNIST IDX folder."""
    return str(need(DATASETS / "mnist"))


@pytest.fixture
def caffe_ref():
    return need(CAFFE_REF)


@pytest.fixture
def original():
    return need(ORIGINAL)


@pytest.fixture(autouse=True)
def _restore_caffe_logging():
    """Commands route the `caffe_compat` logger to glog lines on stderr (not propagating);
    put it back after each test so later tests' caplog sees records as a library user would."""
    import logging

    logger = logging.getLogger("caffe_compat")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:] = saved[0]
    logger.propagate, logger.level = saved[1], saved[2]
