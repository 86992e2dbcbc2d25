"""No large per-iteration allocations: after a warm-up, no layer of LeNet or cifar10_quick
allocates temporaries above a small bound in forward or backward (tracemalloc sees numpy's
allocations). Before the scratch arrays were kept, LeNet's pool1 allocated 2.9 MB per
forward and per backward (a fresh 2x2 upsample), ReLU backward a mask per pass, cifar10_quick's
pool1 7.2 MB in backward (np.take's buffered output, add.at's index conversion), 2.1 MB in
forward, and conv1 400 KB (the ones vector)."""
import sys
import tracemalloc

import numpy as np
import pytest

import caffe_compat.parallel as parallel
from conftest import REPO

# What is left is numpy's own per-call iterator and casting buffers (measured up to about
# 100 KB per thread, 200 KB with two slices at once), far below the arrays' sizes.
BOUND_KB = 256


def warm_net(name, tmp_path):
    """bench_nets' net ``name`` on random data, after its warm-up: the workspaces are
    allocated there, and the fast engine times each of its candidates (3 rounds of up to 4;
    caffe_compat.engines.Pick) before keeping one."""
    sys.path.insert(0, str(REPO / "bench"))
    import bench_nets

    from caffe_compat import TRAIN, Net

    net = Net(bench_nets.write_net(name, str(tmp_path)), TRAIN)
    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.uniform(0, 1, size=net.blobs["data"].shape)
    net.blobs["label"].data[...] = rng.integers(0, 10, size=net.blobs["label"].shape)
    for _ in range(14):
        net.forward_backward()
    return net


@pytest.mark.parametrize("name,threads", [("lenet", 1), ("cifar10_quick", 2)])
def test_no_large_temporaries_per_iteration(name, threads, tmp_path):
    parallel.set_num_threads(threads)
    try:
        net = warm_net(name, tmp_path)
        names, base, peaks = net._layer_names, {}, {}

        def before(i):
            tracemalloc.reset_peak()
            base[0] = tracemalloc.get_traced_memory()[0]

        def after(kind):
            def hook(i):
                peak = tracemalloc.get_traced_memory()[1] - base[0]
                key = f"{names[i]} {kind}"
                peaks[key] = max(peaks.get(key, 0), peak // 1024)
            return hook

        net.before_forward(before)
        net.after_forward(after("forward"))
        net.before_backward(before)
        net.after_backward(after("backward"))
        tracemalloc.start()
        try:
            net.forward_backward()
            net.forward_backward()
        finally:
            tracemalloc.stop()
    finally:
        parallel.set_num_threads(None)
    big = {k: v for k, v in peaks.items() if v > BOUND_KB}
    assert not big, f"{name}: temporaries per call above {BOUND_KB} KB: {big}"
    assert len(peaks) >= 2 * len(net.layers) - 2  # every layer was measured


@pytest.mark.parametrize("name,engine", [("lenet", "DEFAULT"), ("cifar10_quick", "DEFAULT"),
                                         ("cifar10_quick", "CAFFE")])
def test_no_page_faults_per_iteration(name, engine, tmp_path):
    """Memory that onnxruntime's kernels (the fast engine) or OpenBLAS take outside numpy is
    invisible to tracemalloc; freshly mapped memory is not: after the warm-up, an iteration
    touches no new page (a buffer allocated and freed each time faults its pages back in:
    thousands per iteration for im2col-sized arrays)."""
    import resource

    from caffe_compat import engines

    parallel.set_num_threads(1)
    engines.set_engine(engine)
    try:
        net = warm_net(name, tmp_path)
        faults = []
        for _ in range(4):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            net.forward_backward()
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    finally:
        engines.set_engine(None)
        parallel.set_num_threads(None)
    # A few stray faults (a thread's stack, the allocator's bookkeeping) are not a buffer.
    assert min(faults) <= 16, f"{name} ({engine}): page faults per iteration {faults}"
