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


@pytest.fixture
def caffe_ref():
    return need(CAFFE_REF)


@pytest.fixture
def original():
    return need(ORIGINAL)
