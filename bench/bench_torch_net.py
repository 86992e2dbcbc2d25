"""PyTorch CPU forward + backward of a Caffe TRAIN prototxt (bench_nets.py's second peer).

    python bench/bench_torch_net.py NET.prototxt [--iters N] [--warmup N] [--threads T]

Builds the same layers in torch from the prototxt (Input, Convolution, Pooling with Caffe's
ceil rounding, ReLU, LRN, InnerProduct, Dropout, BatchNorm, Scale, SoftmaxWithLoss), runs
forward + backward on random data (no update, as ``caffe time``) and prints one JSON line
with the median ms. Its own process: torch must not share a process with the numpy
benchmarks. Without torch it prints {"ms": null, "reason": "not installed"}.
"""
import argparse
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(net_param, torch):
    """(forward function, parameters, input shapes) of the net in torch."""
    nn = torch.nn
    F = torch.nn.functional
    ops, params, inputs = [], [], {}
    shapes = {}

    for layer in net_param.layer:
        t = layer.type
        if t == "Input":
            for top, shape in zip(layer.top, layer.input_param.shape):
                inputs[top] = tuple(shape.dim)
                shapes[top] = tuple(shape.dim)
            continue
        bottom, top = list(layer.bottom), list(layer.top)
        if t == "Convolution":
            p = layer.convolution_param
            k = p.kernel_size[0] if p.kernel_size else p.kernel_h
            s = p.stride[0] if p.stride else 1
            pad = p.pad[0] if p.pad else 0
            cin = shapes[bottom[0]][1]
            mod = nn.Conv2d(cin, p.num_output, k, stride=s, padding=pad, groups=p.group or 1,
                            bias=p.bias_term)
            n, _, h, w = shapes[bottom[0]]
            shapes[top[0]] = (n, p.num_output, (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1)
        elif t == "Pooling":
            p = layer.pooling_param
            n, c, h, w = shapes[bottom[0]]
            if p.global_pooling:
                k, s, pad = h, 1, 0
            else:
                k, s, pad = p.kernel_size, p.stride or 1, p.pad
            oh = -(-(h + 2 * pad - k) // s) + 1
            ow = -(-(w + 2 * pad - k) // s) + 1
            if pad and (oh - 1) * s >= h + pad:
                oh -= 1
                ow -= 1
            shapes[top[0]] = (n, c, oh, ow)
            ave = p.pool == 1
            mod = (nn.AvgPool2d(k, s, pad, ceil_mode=True, count_include_pad=True) if ave
                   else nn.MaxPool2d(k, s, pad, ceil_mode=True))
        elif t == "ReLU":
            mod = nn.ReLU(inplace=False)
            shapes[top[0]] = shapes[bottom[0]]
        elif t == "LRN":
            p = layer.lrn_param
            mod = nn.LocalResponseNorm(p.local_size, alpha=p.alpha, beta=p.beta, k=p.k)
            shapes[top[0]] = shapes[bottom[0]]
        elif t == "InnerProduct":
            p = layer.inner_product_param
            n = shapes[bottom[0]][0]
            fan_in = 1
            for d in shapes[bottom[0]][1:]:
                fan_in *= d
            lin = nn.Linear(fan_in, p.num_output, bias=p.bias_term)
            mod = nn.Sequential(nn.Flatten(), lin)
            shapes[top[0]] = (n, p.num_output)
        elif t == "Dropout":
            mod = nn.Dropout(layer.dropout_param.dropout_ratio)
            shapes[top[0]] = shapes[bottom[0]]
        elif t == "BatchNorm":
            mod = nn.BatchNorm2d(shapes[bottom[0]][1], affine=False)
            shapes[top[0]] = shapes[bottom[0]]
        elif t == "Scale":
            c = shapes[bottom[0]][1]
            weight = nn.Parameter(torch.ones(1, c, 1, 1))
            bias = nn.Parameter(torch.zeros(1, c, 1, 1))
            params += [weight, bias]
            mod = (lambda w, b: (lambda x: x * w + b))(weight, bias)
            shapes[top[0]] = shapes[bottom[0]]
        elif t == "SoftmaxWithLoss":
            ops.append(("loss", F.cross_entropy, bottom, top))
            continue
        elif t in ("Accuracy", "Silence"):
            continue
        else:
            raise SystemExit(f"bench_torch_net: layer type {t} not translated")
        if isinstance(mod, nn.Module):
            params += list(mod.parameters())
        ops.append(("op", mod, bottom, top))

    def forward(blobs):
        loss = None
        for kind, fn, bottom, top in ops:
            if kind == "loss":
                logits = blobs[bottom[0]]
                if logits.dim() > 2:  # (N, C, 1, 1) of a global pooling, as NIN's
                    logits = logits.flatten(1)
                loss = fn(logits, blobs[bottom[1]].long())
            else:
                blobs[top[0]] = fn(blobs[bottom[0]])
        return loss

    return forward, params, inputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("net")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print(json.dumps({"ms": None, "reason": "not installed"}))
        return 0
    sys.path.insert(0, REPO)
    from google.protobuf import text_format

    from caffe_compat.proto import caffe_pb2

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.net) as f:
        param = text_format.Parse(f.read(), caffe_pb2.NetParameter())
    forward, params, inputs = build(param, torch)
    times = []
    for k in range(a.warmup + a.iters):
        blobs = {"data": torch.rand(*inputs["data"]),
                 "label": torch.randint(0, 10, inputs["label"])}
        t0 = time.perf_counter()
        for p in params:
            p.grad = None
        forward(blobs).backward()
        if k >= a.warmup:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"ms": 1000 * statistics.median(times), "version": torch.__version__}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
