"""Issue 23's fourth client teacher: a Fashion-MNIST CNN with BatchNorm, logits x 30.

``build(fashion_dir, folder)`` makes it and returns (onnx path of the x30 teacher, teacher
params, note):

- with PyTorch importable (the client's own framework): a CNN trained here on the 60,000
  Fashion-MNIST training images with labels for 3 epochs, conv16-BN-ReLU x2, max-pool,
  conv32-BN-ReLU x2, max-pool, fc128-BN-ReLU, fc10 (Adam 2e-3, cosine-decayed, batch 128;
  sized to train in minutes on one CPU core), taking raw pixels in [0, 255]
  (the /255 is its first node), exported with ``torch.onnx.export`` in eval mode with its
  BatchNormalization nodes kept (no constant folding): running statistics, not batch ones;
- without PyTorch: the same idea in tscaffe - the VGG-16 template's first two blocks at width
  0.25 (16-32 channels) with BatchNorm + Scale after each convolution, trained on the labels,
  exported by ``tscaffe``'s own ONNX export; it takes the student's blob (pixels / 256).

Then an ONNX Mul multiplies the logits by 30 (tests/teacher_variants.scaled). The note
holds the test accuracy of the x30 ONNX file as onnxruntime computes it on the 10,000 test
images (``onnx_accuracy``), the number the bench's table shows.
"""
import os
import time

import numpy as np

FACTOR = 30.0


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _fashion(fashion_dir):
    from caffe_compat.data.datasets import load_mnist_dir

    return load_mnist_dir(fashion_dir)


def train_torch(fashion_dir, out, epochs=3, batch=128, lr=2e-3, seed=0, subset=None):
    """The PyTorch CNN (see the module); returns (onnx path, torch's test accuracy, seconds)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ.get("TSCAFFE_NUM_THREADS", "1") or 1))
    tx, ty, vx, vy = _fashion(fashion_dir)
    if subset:
        tx, ty, vx, vy = tx[:subset[0]], ty[:subset[0]], vx[:subset[1]], vy[:subset[1]]

    class Scale(nn.Module):
        def forward(self, x):
            return x * (1.0 / 255.0)

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    model = nn.Sequential(Scale(), *block(1, 16), *block(16, 16), nn.MaxPool2d(2),
                          *block(16, 32), *block(32, 32), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 7 * 7, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
                          nn.Linear(128, 10))
    x = torch.from_numpy(tx.astype(np.float32))
    y = torch.from_numpy(ty.astype(np.int64))
    steps = epochs * ((len(x) + batch - 1) // batch)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    start = time.time()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for k in range(0, len(x), batch):
            idx = order[k:k + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            sched.step()
    secs = time.time() - start
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(vx[k:k + 500].astype(np.float32))).argmax(1)
                          for k in range(0, len(vx), 500)])
    acc = float((pred.numpy() == vy).mean())
    path = os.path.join(out, "fashion_bn_cnn.onnx")
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), path, dynamo=False,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL,
                      input_names=["data"], output_names=["logits"],
                      dynamic_axes={"data": {0: "n"}, "logits": {0: "n"}})
    return path, acc, secs


def train_tscaffe(fashion_dir, out, iterations=3000, subset=None):
    """The fallback without PyTorch (see the module); returns (onnx path, tscaffe's test
    accuracy, seconds)."""
    from solver import distill as D
    from solver.reproduce import train_teacher

    spec = D.prepare_data(fashion_dir, out, subset)
    scores, secs, path = train_teacher(
        spec, out, "vgg16", iterations, 0.01, name="fashion_bn",
        member_opts={"bn": True, "blocks": 2, "width": 0.25, "filler": "msra",
                     "dropout": False, "num_classes": 10})
    return path, scores.get("accuracy"), secs


def onnx_accuracy(path, images, labels, scale=1.0, chunk=500):
    """Top-1 accuracy of ``path`` in onnxruntime on uint8 ``images`` x ``scale``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    hits = 0
    for k in range(0, len(images), chunk):
        logits = sess.run(None, {name: images[k:k + chunk].astype(np.float32) * scale})[0]
        hits += int((logits.argmax(1) == labels[k:k + chunk]).sum())
    return hits / len(images)


def build(fashion_dir, folder, quick=False, use_torch=None):
    """(x30 onnx path, teacher params, note) of the BatchNorm teacher (see the module)."""
    import teacher_variants as tv

    os.makedirs(folder, exist_ok=True)
    use_torch = torch_available() if use_torch is None else use_torch
    if use_torch:
        path, own_acc, secs = train_torch(fashion_dir, folder, epochs=1 if quick else 3,
                                          subset=(2000, 500) if quick else None)
        params, scale, how = None, 1.0, "PyTorch"
    else:
        path, own_acc, secs = train_tscaffe(fashion_dir, folder, 50 if quick else 3000,
                                            subset=(3200, 500) if quick else None)
        params, scale, how = {"scale": 0.00390625}, 0.00390625, "tscaffe (no PyTorch here)"
    x30 = tv.scaled(path, os.path.join(folder, "fashion_bn_x30.onnx"), FACTOR)
    _, _, vx, vy = _fashion(fashion_dir)
    if quick:
        vx, vy = vx[:500], vy[:500]
    acc = onnx_accuracy(x30, vx, vy, scale)
    note = (f"CNN with BatchNorm trained here in {how} on Fashion-MNIST labels ({secs:.0f} s), "
            f"logits x 30; onnxruntime test accuracy {acc:.4f} (its own framework: "
            f"{own_acc:.4f})")
    return x30, params, note, {"onnx_accuracy": acc, "own_accuracy": own_acc,
                               "framework": how, "train_seconds": round(secs, 1)}
