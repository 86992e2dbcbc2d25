"""``tscaffe test -model M -weights W [-iterations N]``: Caffe's ``caffe test``.

Builds the net in the TEST phase (``-level`` / ``-stage`` as Caffe's flags), loads the
weights, runs N forward passes (default 50, as Caffe) and logs, as Caffe does, one line
"Batch i, name = v" per output value and pass, then "Loss: L" and one line per output
value with its mean over the passes ("name = mean (* w = w*mean loss)" for losses).
"""
import numpy as np

from caffe_compat.errors import CaffeError

from solver import log
from solver.log import fmt_num


def add_arguments(parser):
    parser.add_argument("-model", "--model", required=True, help="net prototxt")
    parser.add_argument("-weights", "--weights", required=True,
                        help="caffemodel(s), separated by ','")
    parser.add_argument("-iterations", "--iterations", type=int, default=50,
                        help="number of forward passes (default 50)")
    parser.add_argument("-level", "--level", type=int, default=0)
    parser.add_argument("-stage", "--stage", default="", help="stages, separated by ','")
    parser.add_argument("-gpu", "--gpu", default="", help="ignored: tscaffe computes on the CPU")


def score(net, iterations):
    """[(name, mean, loss weight)] and the mean loss over ``iterations`` forward passes,
    logging Caffe's "Batch" lines; sums in float32 as Caffe's ``test()``."""
    f32 = np.float32
    totals, loss = None, f32(0)
    weights = net.blob_loss_weights
    for i in range(iterations):
        loss += f32(net.forward_from_to(0, len(net.layers) - 1))
        values = []
        for name in net.outputs:
            for v in np.asarray(net.blobs[name].data, dtype=np.float32).ravel():
                values.append((name, f32(v)))
                log.info(log.CAFFE_TEST_BATCH, f"Batch {i}, {name} = {fmt_num(v)}")
        if totals is None:
            totals = [v for _, v in values]
        else:
            totals = [f32(t + v) for t, (_, v) in zip(totals, values)]
    names = [n for n, _ in values] if iterations else []
    means = [(n, f32(t / f32(iterations)), weights.get(n, 0.0)) for n, t in zip(names, totals or [])]
    return means, f32(loss / f32(iterations)) if iterations else f32(0)


def run(args):
    from caffe_compat.net import Net
    from prototxt.io import read_net

    if args.iterations <= 0:
        raise CaffeError(f"-iterations: must be > 0, got {args.iterations}")
    log.install_glog_handler()
    log.info(log.CAFFE_TEST_USE_CPU, "Use CPU.")
    param = read_net(args.model)
    stages = [s for s in args.stage.split(",") if s] if args.stage else []
    net = Net(param, 1, level=args.level, stages=stages)
    for path in args.weights.split(","):
        net.copy_from(path)
    log.info(log.CAFFE_TEST_RUNNING, f"Running for {args.iterations} iterations.")
    means, loss = score(net, args.iterations)
    log.info(log.CAFFE_TEST_LOSS, f"Loss: {fmt_num(loss)}")
    for name, mean, weight in means:
        note = ""
        if weight:
            w = np.float32(weight)
            note = f" (* {fmt_num(w)} = {fmt_num(w * mean)} loss)"
        log.info(log.CAFFE_TEST_SCORE, f"{name} = {fmt_num(mean)}{note}")
    return 0
