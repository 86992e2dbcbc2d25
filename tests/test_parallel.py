"""Batch-split threading (caffe_compat/parallel.py) changes no result.

Every test here forces the split on (three threads, no size floor, so tiny fixtures are cut
into uneven slices) and checks against independent oracles: real Caffe's layer and net
fixtures, Caffe's pooling loop written out, and numeric gradients.
"""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import caffe_compat.parallel as parallel
from conftest import CAFFE_REF, need
from gradcheck import check_gradient, layer_from_text
from test_layer_pooling import ORACLE_GRID, test_against_caffe_loops_with_ties
from test_reference_cases import TIE_ATOL, case_names, run_case

SPLIT_LAYERS = [c for c in case_names("layers")
                if c.startswith(("conv", "pool", "lrn", "relu", "batchnorm", "ip"))]


@pytest.fixture
def split_everything(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "FORCE_SPLIT", True)
    parallel.set_num_threads(3)
    used = set()
    real = parallel.over_batch

    def spy(fn, n, elements):
        def tagged(lo, hi):
            used.add(threading.current_thread().name)
            fn(lo, hi)
        real(tagged, n, elements)

    monkeypatch.setattr(parallel, "over_batch", spy)
    for mod in ("convolution", "_pooling_ave", "_pooling_max", "_pooling_fast", "lrn", "relu",
                "batch_norm", "scale"):
        monkeypatch.setattr(f"caffe_compat.layer_types.{mod}.over_batch", spy)
    yield used
    parallel.set_num_threads(parallel._from_environment())


@pytest.mark.parametrize("case", SPLIT_LAYERS)
def test_layer_fixtures_with_threads(case, split_everything):
    errors = run_case(need(CAFFE_REF / "layers" / case))
    assert not errors, f"{case}: differs from Caffe with threads:\n" + "\n".join(errors)


@pytest.mark.parametrize("case", case_names("nets"))
def test_net_fixtures_with_threads(case, split_everything):
    errors = run_case(need(CAFFE_REF / "nets" / case), TIE_ATOL)  # the fast engine's ties
    assert not errors, f"{case}: differs from Caffe with threads:\n" + "\n".join(errors)
    assert any(name.startswith("tscaffe") for name in split_everything), "no work ran on a worker thread"


@pytest.mark.parametrize("method", ["MAX", "AVE", "MAX without mask top"])
@pytest.mark.parametrize("kh,kw,sh,sw,ph,pw,shape", ORACLE_GRID)
def test_pooling_loops_with_threads(method, kh, kw, sh, sw, ph, pw, shape, split_everything):
    test_against_caffe_loops_with_ties(method, kh, kw, sh, sw, ph, pw, shape)


@pytest.mark.parametrize("text,shape", [
    # rows of 6 (batch-innermost columns), padded, strided
    ("type: 'Convolution' convolution_param { num_output: 4 kernel_size: 3 pad: 1 stride: 2 "
     "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }", (5, 3, 11, 11)),
    # rows of 16 (image-major columns), grouped
    ("type: 'Convolution' convolution_param { num_output: 4 kernel_size: 3 pad: 1 group: 2 "
     "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }", (3, 4, 16, 16)),
    ("type: 'Pooling' pooling_param { pool: MAX kernel_size: 3 stride: 2 }", (3, 2, 8, 8)),
    ("type: 'Pooling' pooling_param { pool: MAX kernel_size: 2 stride: 2 }", (3, 2, 6, 6)),
    ("type: 'Pooling' pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }", (3, 2, 7, 7)),
    ("type: 'LRN' lrn_param { local_size: 3 alpha: 0.5 }", (3, 4, 3, 3)),
    ("type: 'ReLU'", (3, 4, 3, 3)),
    ("type: 'Scale' scale_param { bias_term: true filler { type: 'gaussian' } "
     "bias_filler { type: 'gaussian' } }", (3, 4, 3, 3)),
])
def test_gradients_with_threads(text, shape, split_everything):
    rng = np.random.default_rng(3)
    # Distinct values, none near ReLU's kink, far apart compared with the step.
    x = (rng.permutation(np.prod(shape)) - np.prod(shape) / 2 + 0.5).reshape(shape) * 0.01
    check_gradient(layer_from_text(f"name: 'l' {text}"), [x])
    assert any(name.startswith("tscaffe") for name in split_everything), "no work ran on a worker thread"


def test_batchnorm_gradient_with_threads(split_everything):
    rng = np.random.default_rng(4)
    layer = layer_from_text("name: 'bn' type: 'BatchNorm' batch_norm_param { use_global_stats: false }")
    check_gradient(layer, [rng.standard_normal((3, 4, 3, 3))], check_params=False)
    assert any(name.startswith("tscaffe") for name in split_everything), "no work ran on a worker thread"


def test_thread_count_follows_the_blas_setting():
    """OPENBLAS_NUM_THREADS=1 (as for a one-thread Caffe run) means no helper thread."""
    code = "import caffe_compat.parallel as p; print(p.num_threads())"
    for env, want in (({"OPENBLAS_NUM_THREADS": "1"}, "1"), ({"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "3"}, "2"),
                      ({"TSCAFFE_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "4"}, "1")):
        clean = {k: v for k, v in os.environ.items()
                 if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "TSCAFFE_NUM_THREADS")}
        out = subprocess.run([sys.executable, "-c", code], env=dict(clean, **env), capture_output=True,
                             text=True, check=True)
        assert out.stdout.strip() == want


def test_slices_cover_the_batch_once_and_errors_surface(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "FORCE_SPLIT", True)
    parallel.set_num_threads(4)
    try:
        hits = np.zeros(10, int)

        def mark(lo, hi):
            hits[lo:hi] += 1

        parallel.over_batch(mark, 10, 10)
        assert hits.tolist() == [1] * 10
        parallel.over_batch(mark, 2, 10)  # fewer items than threads
        assert hits.tolist() == [2, 2] + [1] * 8

        def fail(lo, hi):
            if lo > 0:
                raise ValueError("slice failed")

        with pytest.raises(ValueError, match="slice failed"):
            parallel.over_batch(fail, 10, 10)
        with pytest.raises(ValueError, match=">= 1"):
            parallel.set_num_threads(0)
    finally:
        parallel.set_num_threads(parallel._from_environment())


def test_openblas_spin_is_short_unless_the_user_chose():
    code = ("import os, caffe_compat, numpy; "
            "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], caffe_compat._OPENBLAS_SPIN_SET_HERE)")
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["16", "True"]
    out = subprocess.run([sys.executable, "-c", code], env=dict(clean, OPENBLAS_THREAD_TIMEOUT="28"),
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["28", "False"]


def test_a_bad_thread_count_is_a_clear_error(tmp_path):
    """TSCAFFE_NUM_THREADS=two stops tscaffe with one line naming the variable."""
    clean = {k: v for k, v in os.environ.items() if k != "TSCAFFE_NUM_THREADS"}
    net = tmp_path / "n.prototxt"
    net.write_text('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'
                   'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n')
    out = subprocess.run([sys.executable, "-m", "solver", "time", "--model", str(net), "--iterations", "1"],
                         env=dict(clean, TSCAFFE_NUM_THREADS="two"), capture_output=True, text=True)
    assert out.returncode != 0
    assert "TSCAFFE_NUM_THREADS must be a whole number >= 1, got 'two'" in out.stderr
    assert "Traceback" not in out.stderr
