"""`tscaffe label --scheduler`: teacher labelling on a Dask cluster (LocalCluster here).

The single-process `tscaffe label` is the oracle: the Dask run must write the same cache
file (same name, same keys, bit-identical logits), lose nothing when a worker is killed, and
after an interrupted run label only the shards that are missing."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATASETS, REPO, TEACHERS, need

pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")

BATCH = 128


@pytest.fixture(scope="module")
def client_teacher():
    return str(need(TEACHERS / "advertorch_lenet5_clean.onnx"))


@pytest.fixture(scope="module")
def images():
    from caffe_compat.data.datasets import load_mnist_dir

    _, _, x, y = load_mnist_dir(str(need(DATASETS / "mnist")))
    return x[:3000], y[:3000]


def make_db(folder, images):
    from caffe_compat.data.convert import write_datum_lmdb

    os.makedirs(folder, exist_ok=True)
    db = os.path.join(folder, "digits_lmdb")
    write_datum_lmdb(images[0], images[1], db)
    return db


def params(teacher):
    return {"onnx": teacher, "unscale": 256.0}


def single_process_cache(db, teacher):
    """The reference: the local path of `tscaffe label`, run as the command."""
    out = run_label(db, teacher)
    return out, load_cache(db, teacher)


def run_label(db, teacher, *extra):
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "solver", "label", "--teacher", teacher,
                           "--data", db, "--batch", str(BATCH), *extra],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def load_cache(db, teacher):
    from solver.teacher import build_ensemble, cache_path_for

    path = cache_path_for(db, build_ensemble(params(teacher)))
    with np.load(path) as z:
        return path, z["keys"].copy(), z["logits"].copy()


def assert_same_cache(a, b):
    (pa, ka, la), (pb, kb, lb) = a, b
    assert os.path.basename(pa) == os.path.basename(pb)
    order_a, order_b = np.lexsort(ka.T), np.lexsort(kb.T)
    np.testing.assert_array_equal(ka[order_a], kb[order_b])
    np.testing.assert_array_equal(la[order_a], lb[order_b])   # bit for bit


@pytest.fixture(scope="module")
def reference(tmp_path_factory, images, client_teacher):
    db = make_db(str(tmp_path_factory.mktemp("single")), images)
    return single_process_cache(db, client_teacher)[1]


@pytest.fixture(scope="module")
def dask_client():
    from solver.teacher.labelling import connect

    client = connect("local:2")
    yield client
    client.close()
    client.cluster.close()


def test_command_on_local_cluster_writes_the_same_cache(tmp_path, images, client_teacher,
                                                        reference):
    db = make_db(str(tmp_path), images)
    out = run_label(db, client_teacher, "--scheduler", "local:2", "--shard-size", str(4 * BATCH))
    assert "6 of 6 shards labelled on 2 workers" in out and "img/s" in out
    assert_same_cache(load_cache(db, client_teacher), reference)
    # Complete: a second run labels nothing.
    assert "nothing to label" in run_label(db, client_teacher, "--scheduler", "local:1")


def test_worker_killed_mid_run_loses_no_shard(tmp_path, images, client_teacher, reference,
                                              dask_client):
    from solver.teacher.labelling import label_on_dask

    db = make_db(str(tmp_path), images)
    pids = dask_client.run(os.getpid)
    killed = []

    def kill_one(i, done, total):
        if not killed:
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    r = label_on_dask(dask_client, db, params(client_teacher), 0.00390625, None, BATCH,
                      shard_size=BATCH, on_shard=kill_one, progress=False)
    assert killed and r["shards"] == r["shards_run"] == 24
    assert sum(r["by_worker"].values()) == 24               # every shard landed once
    # The killed worker's queued shards ran elsewhere: on the survivor or on the worker the
    # nanny restarted (a new address).
    survivor = sorted(pids)[1]
    assert r["by_worker"].get(survivor, 0) > 12 or set(r["by_worker"]) - set(pids), r["by_worker"]
    assert r["cached"] == len(images[0])
    assert_same_cache(load_cache(db, client_teacher), reference)


def test_rerun_after_interruption_labels_only_missing_shards(tmp_path, images, client_teacher,
                                                              reference, dask_client):
    from solver.teacher.labelling import _parts_folder, label_on_dask

    db = make_db(str(tmp_path), images)

    def interrupt(i, done, total):
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_on_dask(dask_client, db, params(client_teacher), 0.00390625, None, BATCH,
                      shard_size=BATCH, on_shard=interrupt, progress=False)
    from solver.teacher import build_ensemble, cache_path_for

    ensemble = build_ensemble(params(client_teacher))
    cache_path = cache_path_for(db, ensemble)
    parts = _parts_folder(cache_path, BATCH, len(images[0]), ensemble.key)
    saved = len(os.listdir(parts))
    assert saved == 5 and not os.path.exists(cache_path)
    r = label_on_dask(dask_client, db, params(client_teacher), 0.00390625, None, BATCH,
                      shard_size=BATCH, progress=False)
    assert r["shards_run"] == r["shards"] - saved == 19
    assert not os.path.exists(parts)
    assert_same_cache(load_cache(db, client_teacher), reference)


def test_shard_size_must_be_a_multiple_of_the_batch(tmp_path, images, client_teacher,
                                                    dask_client):
    from caffe_compat.errors import CaffeError
    from solver.teacher.labelling import label_on_dask

    db = make_db(str(tmp_path), (images[0][:10], images[1][:10]))
    with pytest.raises(CaffeError, match="multiple of --batch"):
        label_on_dask(dask_client, db, params(client_teacher), 0.00390625, None, BATCH,
                      shard_size=BATCH + 1)


def test_missing_dask_names_the_extra(monkeypatch):
    from caffe_compat.errors import CaffeError
    from solver.teacher.labelling import connect

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(CaffeError, match=r"tscaffe\[cluster\]"):
        connect("local:1")


@pytest.mark.parametrize("scheduler", ["local:0", "local:two"])
def test_bad_local_scheduler_is_named(scheduler):
    from caffe_compat.errors import CaffeError
    from solver.teacher.labelling import connect

    with pytest.raises(CaffeError, match=rf"--scheduler '{scheduler}': local:N needs a worker count >= 1"):
        connect(scheduler)
