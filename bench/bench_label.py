"""Teacher labelling throughput (`tscaffe label`) vs raw onnxruntime on the same images.

    python bench/bench_label.py [--quick] [--json OUT]

The MNIST test digits (10,000; 512 with --quick) are written to an LMDB; `tscaffe label`'s
code path (solver.commands.label.run: LMDB read, Datum decode, the student's 1/256 scale,
the teacher's unscale, per-sample hashing, onnxruntime at batch 256, the logit cache and its
atomic save) labels them with the shared client teacher. The baseline is a bare
onnxruntime session (same default session options) running the same digits as float32
arrays already in memory at batch 256. Each labelling run uses a fresh database (so a fresh,
empty cache: the teacher really runs); runs alternate baseline / ours and the medians of
img/s are compared. Two figures for ours: the labelling loop (the command's own img/s,
measured after the session is built and the dataset hashed) and end to end (wall time of
the whole command, setup included).

With dask[distributed] installed, the same digits are also labelled by `tscaffe label
--scheduler local:N` (solver.teacher.labelling.label_on_dask, shards of 16 batches) with 1 and 2
worker processes, the cluster started beforehand; rows compare them with the
single-process loop and with each other (the 2-worker / 1-worker scaling ratio).
"""
import argparse
import contextlib
import io
import os
import re
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from _common import row  # noqa: E402

BATCH = 256


def raw_images_per_second(images, onnx):
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = images.astype(np.float32)
    session.run(None, {name: x[:BATCH]})  # first-run allocations
    t0 = time.perf_counter()
    for i in range(0, len(x), BATCH):
        session.run(None, {name: x[i:i + BATCH]})
    return len(x) / (time.perf_counter() - t0)


def label_images_per_second(images, labels, onnx, folder):
    """(loop img/s as the command prints it, end-to-end img/s, teacher runs, cached samples)."""
    from caffe_compat.data.convert import write_datum_lmdb
    from solver.commands import label

    db = os.path.join(folder, "mnist_test_lmdb")
    with contextlib.redirect_stderr(io.StringIO()):
        write_datum_lmdb(images, labels, db)
    args = argparse.Namespace(teacher=[onnx], data=db, scale=0.00390625, mean_value=None,
                              unscale=None, teacher_params="{}", blend="prob", batch=BATCH,
                              threads=None, scheduler=None, shard_size=None)
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        label.run(args)
    wall = time.perf_counter() - t0
    match = re.search(r": (\d+) samples, (\d+) teacher runs, (\d+) img/s", out.getvalue())
    if not match:
        raise RuntimeError(f"unexpected `tscaffe label` output: {out.getvalue()!r}")
    samples, runs, rate = (int(g) for g in match.groups())
    return rate, len(images) / wall, runs, samples


def dask_images_per_second(images, labels, onnx, folder, workers, client):
    """img/s of `tscaffe label --scheduler local:N`'s labelling (cluster already started,
    as a user's would be; a fresh database, so every shard really runs)."""
    from caffe_compat.data.convert import write_datum_lmdb
    from solver.teacher.labelling import label_on_dask

    db = os.path.join(folder, "mnist_test_lmdb")
    with contextlib.redirect_stderr(io.StringIO()):
        write_datum_lmdb(images, labels, db)
    r = label_on_dask(client, db, {"onnx": onnx, "unscale": 256.0}, 0.00390625, None, BATCH,
                      shard_size=16 * BATCH, progress=False)
    assert r["workers"] == workers and r["shards_run"] == r["shards"]
    return r["img_per_s"]


def dask_rows(images, labels, reps, single_rate):
    """LocalCluster with 1 and 2 worker processes against the single-process loop."""
    try:
        from solver.teacher.labelling import connect
    except ImportError:
        return []
    try:
        import distributed  # noqa: F401
    except ImportError:
        return [row("teacher labelling on Dask", None, None, "img/s",
                    verdict="dask[distributed] not installed (pip install -e '.[cluster]')")]
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            with contextlib.redirect_stderr(io.StringIO()):
                client = connect(f"local:{workers}")
            try:
                runs = []
                for rep in range(reps):
                    folder = os.path.join(tmp, f"w{workers}_{rep}")
                    os.makedirs(folder)
                    runs.append(dask_images_per_second(images, labels, _common.TEACHER_ONNX,
                                                       folder, workers, client))
                rates[workers] = statistics.median(runs)
            finally:
                client.close()
                client.cluster.close()
    print(f"Dask LocalCluster: 1 worker {rates[1]:,.0f} img/s, 2 workers {rates[2]:,.0f} img/s "
          f"(scaling 2/1 = {rates[2] / rates[1]:.2f}); single process {single_rate:,.0f} img/s")
    return [
        row("teacher labelling, Dask 1 worker / single process", rates[1], single_rate, "img/s",
            target="none set (info)"),
        row("teacher labelling, Dask 2 workers / single process", rates[2], single_rate, "img/s",
            target="none set (info)"),
        row("teacher labelling, Dask 2 workers / 1 worker", rates[2], rates[1], "img/s",
            target="none set (info)"),
    ]


def main(quick=False):
    from caffe_compat.data.datasets import load_mnist_dir

    _common.quiet_logs()
    for path in (_common.MNIST_DIR, _common.TEACHER_ONNX):
        if not os.path.exists(path):
            return [row("teacher labelling", None, None, "img/s", verdict=f"no {path}")]
    _, _, images, labels = load_mnist_dir(_common.MNIST_DIR)
    if quick:
        images, labels = images[:512], labels[:512]
    reps = 1 if quick else 3
    raw, loop, end_to_end = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(reps):
            raw.append(raw_images_per_second(images, _common.TEACHER_ONNX))
            folder = os.path.join(tmp, str(rep))
            os.makedirs(folder)
            rate, e2e, runs, samples = label_images_per_second(images, labels,
                                                               _common.TEACHER_ONNX, folder)
            loop.append(rate)
            end_to_end.append(e2e)
    print(f"labelling {len(images)} MNIST test digits, batch {BATCH}, {reps} run(s) each: "
          f"raw onnxruntime {statistics.median(raw):,.0f} img/s; tscaffe label loop "
          f"{statistics.median(loop):,.0f} img/s, end to end {statistics.median(end_to_end):,.0f} "
          f"img/s; last run: {runs} teacher runs, {samples} samples cached")
    base = statistics.median(raw)
    cluster = dask_rows(images, labels, reps, statistics.median(loop))
    return cluster + [
        row("teacher labelling loop (tscaffe label) / raw onnxruntime", statistics.median(loop),
            base, "img/s", target="none set (info)"),
        row("teacher labelling end to end (setup incl.) / raw onnxruntime",
            statistics.median(end_to_end), base, "img/s"),
    ]


def markdown(rows):
    """The rows as README's table (bench/readme_results.py --label)."""
    lines = ["| what | img/s | against | img/s | ratio |", "|---|---|---|---|---|"]
    for r in rows:
        if r["ratio"] is None:
            continue
        what, against = r["name"].split(" / ")
        lines.append(f"| {what} | {r['ours']:,.0f} | {against} | {r['baseline']:,.0f} | "
                     f"{r['ratio']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    rows = main(quick="--quick" in sys.argv)
    print(_common.format_table(rows))
    if "--json" in sys.argv:
        import json

        path = sys.argv[sys.argv.index("--json") + 1]
        with open(path, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "rows": rows}, f, indent=2)
