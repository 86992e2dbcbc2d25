"""pycaffe's six solver classes and get_solver against real pycaffe 1.0 (recorded by
tests/tools/record_pycaffe.py): construction from a solver file, the test nets, step with
callbacks, the rate (``lr``), snapshot file names, restore, solve, and apply_update alone,
each on a deterministic net whose data and weights the case writes in (pycaffe_cases.py)."""
import json
import os

import numpy as np
import pytest

import caffe_compat as caffe
import pycaffe_cases as cases

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "data", "pycaffe_real.json")) as _f:
    REAL = json.load(_f)["solvers"]


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    return cases.solver_results(caffe, str(tmp_path_factory.mktemp("solvers")))


def _same_params(mine, real, rtol=2e-5, atol=2e-6):
    assert [name for name, _ in mine] == [name for name, _ in real]
    for (name, blobs), (_, real_blobs) in zip(mine, real):
        for values, real_values in zip(blobs, real_blobs):
            np.testing.assert_allclose(values, real_values, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("type_name", sorted(cases.SOLVER_TYPES))
def test_solver_class_as_pycaffe(ours, type_name):
    mine, real = ours[type_name], REAL[type_name]
    for key in ("factory_class", "iter0", "n_test_nets", "iter3", "calls", "test_net_shares",
                "iter_restored", "iter_solved"):
        assert mine[key] == real[key], key
    # Caffe's two files, plus tscaffe's documented .rng.json sidecar (random and reader state)
    assert [f for f in mine["snapshot_files"] if not f.endswith(".rng.json")] == real["snapshot_files"]
    assert [f for f in mine["snapshot_files"] if f.endswith(".rng.json")] == ["snap_iter_3.solverstate.rng.json"]
    assert mine["lr"] == pytest.approx(real["lr"], rel=1e-6)
    for key in ("params3", "params4", "params4_after_restore"):
        _same_params(mine[key], real[key])


def test_apply_update_alone(ours):
    assert ours["apply_update"]["iter"] == REAL["apply_update"]["iter"]
    _same_params(ours["apply_update"]["params"], REAL["apply_update"]["params"])


def test_share_weights(tmp_path):
    net_path = cases._write(str(tmp_path), "n.prototxt", cases.SOLVER_NET)
    solver = caffe.SGDSolver(cases._write(str(tmp_path), "s.prototxt",
                                          cases._solver_text(net_path, "SGD", str(tmp_path / "p"))))
    other = caffe.Net(net_path, caffe.TEST)
    solver.share_weights(other)
    solver.net.params["ip"][0].data[...] = 7
    assert np.all(other.params["ip"][0].data == 7)
