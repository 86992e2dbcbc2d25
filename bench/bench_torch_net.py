"""PyTorch CPU forward + backward of a Caffe TRAIN prototxt (bench_nets.py's second peer).

    python bench/bench_torch_net.py NET.prototxt [--iters N] [--warmup N] [--threads T]
                                    [--profile] [--check [--tol T]]

Builds the same layers in torch from the prototxt (bench/torch_caffe.py: every layer type
of bench_nets' nets, with Caffe's semantics), runs forward + backward on random data (no
update, as ``caffe time``; nets without a loss back-propagate ones from their outputs, and
the data gets a gradient where the net has ``force_backward``, as in Caffe) and prints one
JSON line with the median ms. ``--profile`` adds torch.profiler's self CPU time by op and
by Caffe layer type (forward only for the latter: autograd's backward ops carry no layer).
``--check`` instead compares with tscaffe's Net on the same weights (bench/check_torch_net.py).
Its own process: torch must not share a process with the numpy benchmarks. Without torch
it prints {"ms": null, "reason": "not installed"}.
"""
import argparse
import collections
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def load(path):
    sys.path.insert(0, REPO)
    from google.protobuf import text_format

    from caffe_compat.proto import caffe_pb2

    with open(path) as f:
        return text_format.Parse(f.read(), caffe_pb2.NetParameter())


def make_inputs(tnet, torch, gen):
    """Random inputs: labels in [0, 10) (or the class count), data uniform in [0, 1)."""
    blobs = {}
    for name, shape in tnet.inputs.items():
        if name == "label":
            blobs[name] = torch.randint(0, 10, shape, generator=gen)
        else:
            blobs[name] = torch.rand(shape, generator=gen).requires_grad_(tnet.force_backward)
    return blobs


def _step(tnet, torch, blobs, grads, profile=False):
    """One forward + backward; parameter gradients cleared first (set_to_none)."""
    for p in tnet.parameters():
        p.grad = None
    out = dict(blobs)
    loss = tnet.forward(out, profile=profile)
    if loss is not None:
        loss.backward()
    else:
        torch.autograd.backward([out[n] for n in tnet.outputs], grads)


def time_net(path, iters, warmup, threads, profile=False):
    import torch

    from torch_caffe import TorchNet

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    tnet = TorchNet(load(path), torch)
    tnet.init_random(0)
    grads = [torch.ones(tnet.shapes[n]) for n in tnet.outputs]
    times = []
    for k in range(warmup + iters):
        blobs = make_inputs(tnet, torch, gen)
        t0 = time.perf_counter()
        _step(tnet, torch, blobs, grads)
        if k >= warmup:
            times.append(time.perf_counter() - t0)
    result = {"ms": 1000 * statistics.median(times), "version": torch.__version__,
              "threads": torch.get_num_threads()}
    if profile:
        result.update(profile_net(tnet, torch, gen, grads, iters))
    return result


def profile_net(tnet, torch, gen, grads, iters):
    """torch.profiler over ``iters`` steps: self CPU ms per iteration by aten op, and the
    forward's ms by Caffe layer type and by layer (record_function around each layer)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            _step(tnet, torch, make_inputs(tnet, torch, gen), grads, profile=True)
    by_op, by_type, by_layer = {}, collections.Counter(), {}
    kinds = {op[1] for op in tnet.ops}
    for ev in prof.key_averages():
        ms = ev.self_cpu_time_total / 1000.0 / iters
        if " " in ev.key and ev.key.split(" ", 1)[0] in kinds:
            kind, name = ev.key.split(" ", 1)
            total = ev.cpu_time_total / 1000.0 / iters
            by_type[kind] += total
            by_layer[name] = {"type": kind, "forward_ms": total}
        elif ms > 0:
            by_op[ev.key] = ms
    ops = dict(sorted(by_op.items(), key=lambda kv: -kv[1]))
    return {"by_op_ms": ops, "forward_by_type_ms": dict(by_type.most_common()),
            "forward_by_layer_ms": dict(sorted(by_layer.items(),
                                               key=lambda kv: -kv[1]["forward_ms"]))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("net")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--tol", type=float, default=None)
    a = ap.parse_args()
    try:
        import torch  # noqa: F401  (only: is it installed)
    except ImportError:
        print(json.dumps({"ms": None, "reason": "not installed"}))
        return 0
    sys.path.insert(0, HERE)
    if a.check:
        import check_torch_net

        return check_torch_net.main(a.net, a.threads, a.tol)
    print(json.dumps(time_net(a.net, a.iters, a.warmup, a.threads, a.profile)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
