"""The LeNet training step of bench_lenet.py in PyTorch on CPU, one thread (optional).

    python bench/bench_torch.py [--iters 50] [--warmup 5] [--json]

Caffe's MNIST LeNet (conv 20 k5 -> max 2/2 -> conv 50 k5 -> max 2/2 -> fc 500 -> relu ->
fc 10 -> softmax cross-entropy), batch 64, SGD lr 0.01 momentum 0.9 weight decay 0.0005;
median ms of forward + backward + update. Runs in its own process (the numpy benchmarks
must not share a process with torch). PyTorch is not a dependency of tscaffe: without it the
result is "not installed".
"""
import argparse
import json
import os
import statistics
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"


def torch_step_ms(iters, warmup, batch=64):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0005)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    times = []
    for k in range(warmup + iters):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if k >= warmup:
            times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times), torch.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print one JSON line for bench_lenet")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        result = {"ms": None, "reason": "not installed"}
    else:
        ms, version = torch_step_ms(args.iters, args.warmup)
        result = {"ms": ms, "version": version}
    if args.json:
        print(json.dumps(result))
    elif result["ms"] is None:
        print("PyTorch: not installed")
    else:
        print(f"PyTorch {result['version']} LeNet step (CPU, 1 thread): {result['ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
