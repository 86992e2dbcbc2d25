"""LeNet training fed by the Data layer (LMDB + prefetch thread) vs by in-memory arrays.

    python bench/bench_data.py [--iters 40] [--rounds 3]

Both runs train Caffe's MNIST LeNet (20/50/500/10, batch 64, SGD with the lenet_solver
settings, the same random_seed) on the embedded MNIST digits: one reads them from an LMDB
through ``Data`` with ``transform_param { scale: 0.00390625 }``, the other from the same
digits already scaled, through ``MemoryData`` (no I/O, no decoding, no copy). Rounds
alternate between the two so that machine noise hits both; the median time per iteration is
compared. The issue's target: the LMDB run at most 5% slower.
"""
import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from caffe_compat.data.convert import write_datum_lmdb  # noqa: E402
from caffe_compat.data.datasets import load_default_mnist  # noqa: E402
import _common  # noqa: E402
from _common import LENET_BODY, MEMORY_INPUT, row  # noqa: E402,F401

BATCH = 64
LMDB_INPUT = """layer {{ name: "mnist" type: "Data" top: "data" top: "label"
  transform_param {{ scale: 0.00390625 }}
  data_param {{ source: "{db}" batch_size: 64 backend: LMDB }} }}"""


def make_solver(input_layer, prefix):
    return _common.make_solver('name: "lenet" ' + input_layer + LENET_BODY, prefix)


def time_steps(solver, iters):
    t0 = time.perf_counter()
    solver.step(iters)
    return (time.perf_counter() - t0) / iters


def main(quick=False, argv=()):
    """Run the comparison; return the result rows of bench/run_all.py (``quick``: 3
    iterations, 1 round, a 640-digit database)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=3 if quick else 40, help="iterations per timed round")
    ap.add_argument("--rounds", type=int, default=1 if quick else 3)
    args = ap.parse_args(list(argv))
    logging.disable(logging.INFO)
    train_x, train_y, _, _ = load_default_mnist()
    if quick:
        train_x, train_y = train_x[:10 * BATCH], train_y[:10 * BATCH]
    n = len(train_x) // BATCH * BATCH  # MemoryData needs a multiple of the batch size
    train_x, train_y = train_x[:n], train_y[:n]
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "mnist_lmdb")
        write_datum_lmdb(train_x, train_y, db)
        lmdb_solver = make_solver(LMDB_INPUT.format(db=db), os.path.join(tmp, "a"))
        mem_solver = make_solver(MEMORY_INPUT, os.path.join(tmp, "b"))
        memory = [l for l in mem_solver.net.layers if l.type == "MemoryData"][0]
        scaled = train_x.astype(np.float32) * np.float32(0.00390625)
        memory.set_input_arrays(scaled, train_y.astype(np.float32))
        for s in (lmdb_solver, mem_solver):
            time_steps(s, 3)  # warm-up: first allocations, prefetch queue filled
        t_lmdb, t_mem = [], []
        for _ in range(args.rounds):
            t_lmdb.append(time_steps(lmdb_solver, args.iters))
            t_mem.append(time_steps(mem_solver, args.iters))
        lmdb_solver.net.layers[0].close()
    a, b = statistics.median(t_lmdb), statistics.median(t_mem)
    print(f"{'input':<22}{'ms/iter':>10}")
    print(f"{'Data (LMDB, prefetch)':<22}{a * 1e3:>10.2f}")
    print(f"{'MemoryData (arrays)':<22}{b * 1e3:>10.2f}")
    print(f"ratio LMDB / in-memory: {a / b:.3f} (target <= 1.05)")
    return [row("LeNet step, Data (LMDB) / MemoryData", a * 1e3, b * 1e3, "ms", target=1.05)]


if __name__ == "__main__":
    main(argv=sys.argv[1:])
