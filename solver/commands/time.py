"""``tscaffe time -model M [-iterations N]``: Caffe's ``caffe time``, line for line.

The net is built in the TRAIN phase (``-phase TEST`` to change it); one clean forward and
backward pass first ("Performing Forward", "Initial loss", "Performing Backward"), then N
iterations (default 50) of every layer's forward in order and backward in reverse order,
timed per layer. Logged: "Iteration: k forward-backward time: X ms." per iteration, then per
layer "<name right-aligned in 10>\\tforward: X ms." / "\\tbackward: X ms." (averages), then
"Average Forward pass", "Average Backward pass", "Average Forward-Backward", "Total Time",
"*** Benchmark ends ***". Layers that the net does not back-propagate through (Caffe's
need_backward false) are not run backward, so their backward time is about 0.
"""
import time as _time

from caffe_compat.errors import CaffeError
from caffe_compat.parallel import measured

from solver import log
from solver.log import fmt_num


def add_arguments(parser):
    parser.add_argument("-model", "--model", required=True, help="net prototxt")
    parser.add_argument("-iterations", "--iterations", type=int, default=50,
                        help="number of timed iterations (default 50)")
    parser.add_argument("-phase", "--phase", default="TRAIN", choices=("TRAIN", "TEST"))
    parser.add_argument("-level", "--level", type=int, default=0)
    parser.add_argument("-stage", "--stage", default="", help="stages, separated by ','")
    parser.add_argument("-weights", "--weights", default="", help="optional caffemodel(s)")
    parser.add_argument("-gpu", "--gpu", default="", help="ignored: tscaffe computes on the CPU")
    parser.add_argument("-engines", "--engines", action="store_true",
                        help="tscaffe's own: also print which engine and kernels computed each "
                             "layer (caffe.cpp:405 lines; Caffe prints none)")


def benchmark(net, iterations):
    """Per-layer forward/backward totals (microseconds), forward/backward totals, total ms."""
    n = len(net.layers)
    fwd_layer, bwd_layer = [0.0] * n, [0.0] * n
    fwd_total = bwd_total = 0.0
    bottoms = [net.layer_bottoms(i) for i in range(n)]
    tops = [net.layer_tops(i) for i in range(n)]
    need = net.layer_need_backward
    prop = net.bottom_need_backward
    clock = _time.perf_counter
    start_all = clock()
    for j in range(iterations):
        start_iter = clock()
        with measured(net):  # the thread count is measured on these iterations too
            start = clock()
            for i, layer in enumerate(net.layers):
                t = clock()
                layer.reshape(bottoms[i], tops[i])  # Caffe's Layer::Forward reshapes first
                layer.forward(bottoms[i], tops[i])
                fwd_layer[i] += (clock() - t) * 1e6
            fwd_total += (clock() - start) * 1e6
            start = clock()
            for i in range(n - 1, -1, -1):
                t = clock()
                if need[i]:
                    net.layers[i].backward(tops[i], prop[i], bottoms[i])
                bwd_layer[i] += (clock() - t) * 1e6
            bwd_total += (clock() - start) * 1e6
        log.info(log.CAFFE_TIME_ITERATION, f"Iteration: {j + 1} forward-backward time: "
                 f"{fmt_num((clock() - start_iter) * 1e3)} ms.")
    return fwd_layer, bwd_layer, fwd_total, bwd_total, (clock() - start_all) * 1e3


def run(args):
    from caffe_compat import engines
    from caffe_compat.net import Net
    from prototxt.io import read_net

    if args.iterations <= 0:
        raise CaffeError(f"-iterations: must be > 0, got {args.iterations}")
    log.install_glog_handler()
    log.info(log.CAFFE_TIME_USE_CPU, "Use CPU.")
    stages = [s for s in args.stage.split(",") if s] if args.stage else []
    net = Net(read_net(args.model), 0 if args.phase == "TRAIN" else 1, level=args.level,
              stages=stages)
    for path in filter(None, args.weights.split(",")):
        net.copy_from(path)
    last = len(net.layers) - 1
    log.info(log.CAFFE_TIME_PERFORMING_FORWARD, "Performing Forward")
    loss = net.forward_from_to(0, last)
    log.info(log.CAFFE_TIME_INITIAL_LOSS, f"Initial loss: {fmt_num(loss)}")
    log.info(log.CAFFE_TIME_PERFORMING_BACKWARD, "Performing Backward")
    if net.backward_refusal() is None:
        net.backward_from_to(last, 0)
    log.info(log.CAFFE_TIME_BEGINS, "*** Benchmark begins ***")
    log.info(log.CAFFE_TIME_TESTING_FOR, f"Testing for {args.iterations} iterations.")
    fwd_layer, bwd_layer, fwd, bwd, total_ms = benchmark(net, args.iterations)
    n = args.iterations
    log.info(log.CAFFE_TIME_PER_LAYER, "Average time per layer: ")
    for i, name in enumerate(net.layer_names):
        log.info(log.CAFFE_TIME_LAYER_FORWARD, f"{name:>10}\tforward: {fmt_num(fwd_layer[i] / 1000 / n)} ms.")
        log.info(log.CAFFE_TIME_LAYER_BACKWARD, f"{name:>10}\tbackward: {fmt_num(bwd_layer[i] / 1000 / n)} ms.")
    for name, layer in zip(net.layer_names, net.layers) if args.engines else ():
        engine = engines.describe(layer)
        if engine is not None:
            log.info(log.CAFFE_TIME_ENGINE, f"{name:>10}\tengine: {engine}")
    log.info(log.CAFFE_TIME_AVG_FORWARD, f"Average Forward pass: {fmt_num(fwd / 1000 / n)} ms.")
    log.info(log.CAFFE_TIME_AVG_BACKWARD, f"Average Backward pass: {fmt_num(bwd / 1000 / n)} ms.")
    log.info(log.CAFFE_TIME_AVG_FB, f"Average Forward-Backward: {fmt_num(total_ms / n)} ms.")
    log.info(log.CAFFE_TIME_TOTAL, f"Total Time: {fmt_num(total_ms)} ms.")
    log.info(log.CAFFE_TIME_ENDS, "*** Benchmark ends ***")
    return 0
