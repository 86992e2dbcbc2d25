"""Does the PyTorch peer compute what tscaffe computes? (``bench_torch_net.py NET --check``)

Builds tscaffe's Net (phase TRAIN, the engine TSCAFFE_ENGINE selects) and the torch graph
(bench/torch_caffe.py) from the same prototxt, gives tscaffe's Net seeded random weights
(He-normal weights, small biases, Scale around 1, BatchNorm statistics with a factor of 2
so the division by it is exercised) and copies them into torch, runs both on the same
random inputs -- torch's Dropout takes tscaffe's mask -- and compares every blob both
have after the forward pass, then every parameter gradient (and the data gradient with
``force_backward``) after the backward pass: from the loss, or for nets without one from
the same random gradient on every output. Prints one JSON line with the largest relative
error (max |torch - ours| / max |ours| per array) and exits 1 when it is above the
tolerance (default 1e-4 forward, 1e-3 gradients), naming the worst arrays.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FORWARD_TOL, GRAD_TOL = 1e-4, 1e-3


def randomize(net, np, seed=0):
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        blobs = layer.blobs
        if not blobs:
            continue
        if layer.type == "BatchNorm":
            c = blobs[0].shape
            blobs[0].data[...] = 2 * 0.1 * rng.standard_normal(c)
            blobs[1].data[...] = 2 * (0.5 + rng.random(c))
            blobs[2].data[...] = 2
            continue
        for k, blob in enumerate(blobs):
            shape = blob.shape
            if len(shape) >= 2:
                fan_in = int(np.prod(shape[1:]))
                blob.data[...] = rng.standard_normal(shape) * (2.0 / fan_in) ** 0.5
            elif layer.type == "Scale" and k == 0:
                blob.data[...] = 0.5 + rng.random(shape)
            else:
                blob.data[...] = 0.1 * rng.standard_normal(shape)


def temper(net, np):
    """Scales the weights of the convolution or inner product that feeds each Softmax (through
    ReLU, pooling, dropout, splits) so that its logits have a standard deviation of 1: random
    deep nets otherwise saturate the softmax, and the gradients below it are rounding noise."""
    names = list(net.layer_dict)
    for i, layer in enumerate(net.layers):
        if layer.type not in ("Softmax", "SoftmaxWithLoss"):
            continue
        net.forward()
        blob = net.bottom_names[names[i]][0]
        std = float(np.std(net.blobs[blob].data))
        for j in range(i - 1, -1, -1):
            if blob not in net.top_names[names[j]]:
                continue
            producer = net.layers[j]
            if producer.type in ("Convolution", "InnerProduct"):
                if std > 0:
                    for b in producer.blobs:
                        b.data[...] /= std
                break
            if producer.type not in ("ReLU", "Pooling", "Dropout", "Split"):
                break
            blob = net.bottom_names[names[j]][0]


def rel_error(theirs, ours, np, norm=False):
    """max |theirs - ours| / max |ours| (``norm``: ||theirs - ours|| / ||ours||)."""
    ours = np.asarray(ours, np.float64)
    theirs = np.asarray(theirs, np.float64).reshape(ours.shape)
    if not ours.size:
        return 0.0
    if norm:
        scale, diff = float(np.linalg.norm(ours)), float(np.linalg.norm(theirs - ours))
    else:
        scale, diff = float(np.abs(ours).max()), float(np.abs(theirs - ours).max())
    return diff / scale if scale > 0 else diff


def run_torch(torch, np, param, net, feed, grads, masks, dtype):
    """The torch graph in ``dtype`` with ours' weights, inputs and dropout masks: forward
    and backward; {"blobs": {name: array}, "grads": {"layer/k" or "blob/in": array}}."""
    from torch_caffe import TorchNet

    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        tnet = TorchNet(param, torch)
    finally:
        torch.set_default_dtype(old)
    with torch.no_grad():
        for table in (tnet.params, tnet.stats):
            for name, ts in table.items():
                for t, blob in zip(ts, net.layer_dict[name].blobs):
                    t.copy_(torch.from_numpy(np.asarray(blob.data, np.float64)).reshape(t.shape))
    tnet.masks = {k: torch.from_numpy(v).to(dtype) for k, v in masks.items()}
    blobs = {}
    for name, value in feed.items():
        blobs[name] = torch.from_numpy(value.copy())
        if name != "label":
            blobs[name] = blobs[name].to(dtype).requires_grad_(tnet.force_backward)
    inputs = dict(blobs)
    loss = tnet.forward(blobs)
    if loss is not None:
        loss.backward()
    else:
        torch.autograd.backward([blobs[n] for n in tnet.outputs],
                                [torch.from_numpy(grads[n]).to(dtype) for n in tnet.outputs])
    result = {"blobs": {n: t.detach().numpy() for n, t in blobs.items() if n not in inputs},
              "grads": {}}
    for name, ts in tnet.params.items():
        for k, t in enumerate(ts):
            result["grads"][f"{name}/{k}"] = t.grad.numpy()
    for name, t in inputs.items():
        if t.requires_grad:
            result["grads"][f"{name}/in"] = t.grad.numpy()
    return result


def main(path, threads=1, tol=None):
    sys.path.insert(0, REPO)
    from caffe_compat import TRAIN, Net, engines

    import numpy as np
    import torch

    from bench_torch_net import load
    from torch_caffe import TorchNet

    torch.set_num_threads(threads)
    fwd_tol, grad_tol = (tol, 10 * tol) if tol else (FORWARD_TOL, GRAD_TOL)
    net = Net(path, TRAIN)
    randomize(net, np)
    from _common import net_inputs

    net_inputs(net, np, np.random.default_rng(1))
    temper(net, np)
    feed = {name: net.blobs[name].data.copy() for name in net.inputs}
    rng = np.random.default_rng(2)
    param = load(path)

    # ours: forward, then backward from the loss or from the seeded output gradients
    probe = TorchNet(param, torch)
    shapes, outputs = probe.shapes, probe.outputs
    has_loss = any(op[1] == "SoftmaxWithLoss" for op in probe.ops)
    grads = {n: rng.standard_normal(shapes[n]).astype(np.float32) for n in outputs}
    net.clear_param_diffs()
    if has_loss:
        net.forward_backward()
    else:
        net.forward()
        net.backward(**{n: grads[n] for n in net.outputs if n in grads})
    masks = {name: net.layer_dict[name].mask.copy() for name in net.layer_dict
             if net.layer_dict[name].type == "Dropout"}
    t32 = run_torch(torch, np, param, net, feed, grads, masks, torch.float32)
    t64 = run_torch(torch, np, param, net, feed, grads, masks, torch.float64)
    ours = {"blobs": {}, "grads": {}}
    skipped = {b for name, layer in net.layer_dict.items() if layer.type in ("Accuracy", "Silence")
               for b in net.top_names[name]}
    absent = [b for b in net.blobs if b not in t32["blobs"] and b not in skipped
              and "_split_" not in b and b not in feed]
    if absent:
        raise SystemExit(f"check FAILED for {path}: torch has no blob {absent[:5]}")
    for name in t32["blobs"]:
        ours["blobs"][name] = net.blobs[name].data
    for key in t32["grads"]:
        name, k = key.rsplit("/", 1)
        ours["grads"][key] = (net.blobs[name].diff if k == "in" else
                              net.layer_dict[name].blobs[int(k)].diff)
    errors = {f"blob {n}": rel_error(t32["blobs"][n], ours["blobs"][n], np) for n in ours["blobs"]}
    # gradients: against float64 torch, next to float32 torch's own distance from it
    grad_errors = {f"{k} diff": rel_error(ours["grads"][k], t64["grads"][k], np, True)
                   for k in ours["grads"]}
    torch32_errors = {f"{k} diff": rel_error(t32["grads"][k], t64["grads"][k], np, True)
                      for k in ours["grads"]}
    worst = max(errors.items(), key=lambda kv: kv[1])
    worst_grad = max(grad_errors.items(), key=lambda kv: kv[1])
    worst32 = max(torch32_errors.values())
    grad_limit = max(grad_tol, 4 * worst32)
    bad = sorted([(k, v) for k, v in errors.items() if not v <= fwd_tol]
                 + [(k, v) for k, v in grad_errors.items() if not v <= grad_limit],
                 key=lambda kv: -kv[1] if kv[1] == kv[1] else float("-inf"))
    result = {"net": os.path.splitext(os.path.basename(path))[0], "engine": engines.get_engine(),
              "blobs": len(errors), "grads": len(grad_errors),
              "forward_max_rel": worst[1], "forward_worst": worst[0],
              "grad_max_rel": worst_grad[1], "grad_worst": worst_grad[0],
              "torch32_grad_max_rel": worst32,
              "forward_tol": fwd_tol, "grad_tol": grad_limit, "ok": not bad,
              "failures": bad[:10]}
    print(json.dumps(result))
    if bad:
        print(f"check FAILED for {path}: " + ", ".join(f"{k} {v:.3g}" for k, v in bad[:10]),
              file=sys.stderr)
        return 1
    return 0


def check_all(nets=None, threads=1, engines=None):
    """bench_torch_net.py --check on every net under each engine (default: DEFAULT, CAFFE and
    FAST); False when any fails."""
    import bench_nets

    script = os.path.join(HERE, "bench_torch_net.py")
    ok, lines = True, ["| net | engine | blobs | forward max rel. error | gradients | "
                       "gradient max rel. error (float32 torch's own) | verdict |",
                       "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in nets or list(bench_nets.NETS):
            path = bench_nets.write_net(name, tmp)
            for engine in engines or bench_nets.ALL_ENGINES:
                proc = subprocess.run([sys.executable, script, path, "--check", "--threads",
                                       str(threads)], capture_output=True, text=True,
                                      env=bench_nets.engine_env(engine), timeout=1800)
                out = proc.stdout.strip().splitlines()
                r = json.loads(out[-1]) if out and out[-1].startswith("{") else None
                if r is None or r.get("ms", 0) is None:
                    raise SystemExit(f"check {name} ({engine}): no result (torch not installed?)"
                                     f"\n{proc.stderr[-2000:]}")
                verdict = "ok" if proc.returncode == 0 and r["ok"] else "FAILED"
                ok &= verdict == "ok"
                lines.append(f"| {name} | {engine} | {r['blobs']} | {r['forward_max_rel']:.2g} "
                             f"({r['forward_worst']}) | {r['grads']} | {r['grad_max_rel']:.2g} "
                             f"({r['torch32_grad_max_rel']:.2g}) | {verdict} |")
                print(lines[-1], flush=True)
                if verdict != "ok":
                    print(proc.stderr[-2000:], file=sys.stderr)
    print("\n".join(lines))
    return ok
