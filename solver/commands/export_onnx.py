"""tscaffe export-onnx -model M -weights W -o out.onnx: a trained net as an ONNX graph."""
import sys


def add_arguments(p):
    p.add_argument("-model", "--model", required=True, help="net prototxt (deploy or train_val, V1 too)")
    p.add_argument("-weights", "--weights", help="caffemodel with the trained weights")
    p.add_argument("-o", "--output", required=True, help="the ONNX file to write")
    p.add_argument("--blob", action="append", dest="blobs",
                   help="output blob (repeatable); default: the logits feeding the loss/Accuracy")
    p.add_argument("--batch", type=int, default=None,
                   help="batch size to build the net with (the ONNX batch axis stays symbolic)")
    p.add_argument("--input-shape", help="C,H,W of one sample, when the data source is absent")
    p.add_argument("--check", action="store_true",
                   help="run onnxruntime on random input and compare with the numpy forward")


def run(args):
    import numpy as np

    from caffe_compat.onnx_export import export_onnx
    from solver.deploy import load_test_net, parse_shape

    shape = parse_shape(args.input_shape) if args.input_shape else None
    net = load_test_net(args.model, args.weights, batch=args.batch, sample_shape=shape)
    model = export_onnx(net, args.output, outputs=args.blobs)
    outs = [o.name for o in model.graph.output]
    print(f"wrote {args.output}: inputs {[i.name for i in model.graph.input]}, outputs {outs}")
    if args.check:
        import onnxruntime as ort

        sess = ort.InferenceSession(args.output, providers=["CPUExecutionProvider"])
        feeds = {}
        rng = np.random.default_rng(0)
        for inp in model.graph.input:
            shape = net.blobs[inp.name].shape
            feeds[inp.name] = rng.uniform(-1, 1, shape).astype(np.float32)
            net.blobs[inp.name].data[...] = feeds[inp.name]
        net.forward()
        got = sess.run(outs, feeds)
        for name, value in zip(outs, got):
            ref = net.blobs[name].data
            err = float(np.max(np.abs(value - ref)) / max(1e-12, float(np.max(np.abs(ref)))))
            print(f"{name}: max relative difference numpy vs onnxruntime {err:.2e}")
            if err > 1e-5:
                print("check failed", file=sys.stderr)
                return 1
    return 0
