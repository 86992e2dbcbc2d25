"""Teacher labelling of an LMDB (``tscaffe label``): in this process, or sharded on Dask.

Both paths run the same loop (``label_records``): records in key order, batches of
``batch`` samples, the student's Data-layer transform (TEST phase, deterministic), the
teacher through a ``CachedTeacher``. So the cache file they produce is the same: same
path (``solver.teacher.placement``), same per-sample keys, bit-identical logits (a
shard starts at a multiple of ``batch``, so every onnxruntime call sees the same batch).

On Dask (``label_on_dask``) the database is split into shards of consecutive keys
(``shard_size`` records, a multiple of ``batch``; by default at least 4 shards per worker,
at most 16 batches each); each task opens the database on the
worker (the path must be readable there: shared storage), builds its own onnxruntime
session once per worker process, and returns the shard's keys and logits. The client saves
each shard as it lands (``<cache>.parts-.../shard-NNNNNN.npz``, atomically), so a rerun after
an interrupted run labels only the missing shards; when all are in, they are merged into the
cache file, the parts removed and ``<cache>.done.json`` records that the dataset is complete.
A worker that dies mid-run loses nothing: the scheduler runs its shards again elsewhere.
"""
import io
import json
import os
import shutil
import time

import numpy as np

from caffe_compat.errors import CaffeError
from caffe_compat.io import atomic_write_bytes

from .builder import cached_teacher
from .cache import open_cache
from .ensemble import build_ensemble

CLUSTER_EXTRA = "pip install 'tscaffe[cluster]' (from a checkout: pip install -e '.[cluster]')"


def student_transformer(scale, mean_values):
    from caffe_compat.data.transformer import DataTransformer
    from caffe_compat.proto import caffe_pb2

    param = caffe_pb2.TransformationParameter(scale=scale, mean_value=mean_values or [])
    return DataTransformer(param, phase=caffe_pb2.TEST, seed=0)


def label_records(records, transformer, teacher, batch, on_batch=None):
    """Run ``teacher`` (a CachedTeacher) over ``records`` ((key, value) pairs) in batches;
    returns the number of samples. ``on_batch(n)`` after each batch."""
    from caffe_compat.data.lmdb_source import read_record

    images, n = [], 0

    def flush():
        teacher.logits(transformer.transform(np.stack(images)))
        if on_batch is not None:
            on_batch(len(images))
        images.clear()

    for key, value in records:
        images.append(read_record(key, value)[0])
        n += 1
        if len(images) == batch:
            flush()
    if images:
        flush()
    return n


# ------------------------------------------------------------------------ Dask workers

_WORKER_TEACHERS = {}


def _worker_ensemble(params_json, threads):
    """One onnxruntime session per teacher per worker process, reused across shards. Unless
    the teacher params name ``threads``, onnxruntime gets the worker's own thread count, so
    N workers on a machine do not each start a thread per core."""
    key = (params_json, threads)
    if key not in _WORKER_TEACHERS:
        params = json.loads(params_json)
        for spec in params.get("teachers", [params]):
            if threads and "threads" not in spec:
                spec["threads"] = threads
        _WORKER_TEACHERS[key] = build_ensemble(params)
    return _WORKER_TEACHERS[key]


def label_shard(db, first_key, count, params_json, scale, mean_values, batch):
    """A Dask task: label ``count`` records from ``first_key``; returns (keys (M, 16) uint8,
    logits (M, C) float32, worker address)."""
    from caffe_compat.data.lmdb_source import LMDBSource

    try:
        from distributed import get_worker

        worker = get_worker()
        where, threads = worker.address, worker.state.nthreads
    except (ImportError, ValueError, AttributeError):
        where, threads = "local", None
    params = {k: v for k, v in json.loads(params_json).items() if k not in ("data", "cache_file")}
    teacher = cached_teacher(params, ensemble=_worker_ensemble(params_json, threads))
    cache = teacher.cache   # in memory: the client saves the shards
    label_records(LMDBSource(db).span(first_key, count), student_transformer(scale, mean_values),
                  teacher, batch)
    keys = np.frombuffer(b"".join(cache.index), np.uint8).reshape(-1, 16)
    logits = cache.get(list(cache.index.values()))
    return keys, logits, where


# ------------------------------------------------------------------------ the client

def connect(scheduler):
    """A dask.distributed Client: ``local:N`` starts a LocalCluster of N single-threaded
    worker processes; anything else is a scheduler address (tcp://host:8786)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CaffeError(f"--scheduler needs dask.distributed, which is not installed: "
                         f"{CLUSTER_EXTRA}") from None
    if scheduler.startswith("local:"):
        try:
            n = int(scheduler.split(":", 1)[1])
            assert n >= 1
        except (ValueError, AssertionError):
            raise CaffeError(f"--scheduler {scheduler!r}: local:N needs a worker count >= 1") from None
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster)
    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as e:
        raise CaffeError(f"--scheduler {scheduler!r}: cannot reach the Dask scheduler ({e})") from None


def _parts_folder(cache_path, shard_size, records, teacher):
    """Where the shards of a labelling run wait (named by the teacher's key as well: a file
    given as ``cache_file`` does not say which teacher filled it)."""
    return f"{cache_path}.parts-s{shard_size}-n{records}-t{teacher[:16]}"


def _save_part(path, keys, logits):
    buf = io.BytesIO()
    np.savez(buf, keys=keys, logits=logits)
    atomic_write_bytes(path, buf.getvalue())


def label_on_dask(client, db, params, scale, mean_values, batch=256, shard_size=None,
                  on_shard=None, progress=True):
    """Label the LMDB ``db`` on the Dask cluster of ``client`` into the teacher's cache file.

    Returns a dict: cache path, records, shards, shards_run (this run), workers, seconds,
    img_per_s, by_worker (shards per worker address). ``on_shard(i, done, total)`` is called
    as each shard lands (tests use it to kill a worker mid-run)."""
    from distributed import as_completed
    from tqdm import tqdm

    from caffe_compat.data.lmdb_source import LMDBSource

    if shard_size is not None and shard_size % batch:
        raise CaffeError(f"--shard-size {shard_size} must be a multiple of --batch {batch} "
                         "(so the logits equal the single-process run's bit for bit)")
    from caffe_compat.data.lmdb_source import read_record

    source = LMDBSource(db)
    teacher = cached_teacher(dict(params, data=db), read_record(*source.first())[0].shape,
                             announce=False)
    cache_path = teacher.cache_path
    keys = source.keys()
    n = len(keys)
    if shard_size is None:
        # At least 4 shards per worker (so a slow or lost worker's share is small), at most
        # 16 batches each.
        workers = max(len(client.scheduler_info()["workers"]), 1)
        per_shard = -(-n // (4 * workers * batch))
        shard_size = batch * min(max(per_shard, 1), 16)
    starts = list(range(0, n, shard_size))
    done_file = cache_path + ".done.json"
    if os.path.exists(done_file) and os.path.exists(cache_path):
        with open(done_file) as f:
            if json.load(f).get("records") == n:
                return {"cache": cache_path, "records": n, "shards": len(starts),
                        "shards_run": 0, "workers": len(client.scheduler_info()["workers"]),
                        "seconds": 0.0, "img_per_s": 0.0, "by_worker": {}}
    parts = _parts_folder(cache_path, shard_size, n, teacher.ensemble.key)
    os.makedirs(parts, exist_ok=True)
    have = {int(name[6:12]) for name in os.listdir(parts)
            if name.startswith("shard-") and name.endswith(".npz")}
    todo = [i for i in range(len(starts)) if i not in have]
    params_json = json.dumps(params, sort_keys=True)
    start = time.time()
    futures = {}
    for i in todo:
        count = min(shard_size, n - starts[i])
        fut = client.submit(label_shard, db, keys[starts[i]], count, params_json, scale,
                            mean_values, batch, key=f"tscaffe-label-{os.path.basename(cache_path)}-{i}",
                            pure=False, retries=2)
        futures[fut] = i
    by_worker = {}
    labelled = 0
    with tqdm(total=len(starts), initial=len(have), unit="shard", desc="labelling",
              disable=None if progress else True) as bar:
        for fut in as_completed(futures):
            i = futures[fut]
            part_keys, part_logits, where = fut.result()
            _save_part(os.path.join(parts, f"shard-{i:06d}.npz"), part_keys, part_logits)
            labelled += len(part_keys)
            by_worker[where] = by_worker.get(where, 0) + 1
            bar.update(1)
            if on_shard is not None:
                on_shard(i, len(have) + sum(by_worker.values()), len(starts))
    secs = time.time() - start
    cache = open_cache(cache_path)
    for name in sorted(os.listdir(parts)):
        with np.load(os.path.join(parts, name)) as z:
            cache.add([bytes(k) for k in z["keys"]], z["logits"])
    cache.save()
    atomic_write_bytes(done_file, json.dumps({"records": n, "shard_size": shard_size}).encode())
    shutil.rmtree(parts, ignore_errors=True)
    workers = len(client.scheduler_info()["workers"])
    return {"cache": cache_path, "records": n, "shards": len(starts), "shards_run": len(todo),
            "workers": workers, "seconds": secs, "img_per_s": labelled / max(secs, 1e-9),
            "by_worker": by_worker, "cached": len(cache)}
