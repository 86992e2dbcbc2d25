"""``tscaffe draw NET OUT``: draw a net (like Caffe's draw_net.py); OUT's extension picks
the format (.dot needs nothing; .png/.svg/.pdf need Graphviz's dot program)."""


def add_arguments(parser):
    parser.add_argument("net", help="net prototxt")
    parser.add_argument("out", help="output image (.png, .svg, .pdf) or graph (.dot)")
    parser.add_argument("--rankdir", "-rankdir", default="LR", choices=["LR", "TB", "BT", "RL"],
                        help="direction of the graph (default LR)")
    parser.add_argument("--phase", "-phase", default="ALL", choices=["TRAIN", "TEST", "ALL"],
                        help="draw only the layers of this phase (default ALL)")


def run(args):
    from caffe_compat.proto import caffe_pb2
    from prototxt.draw import draw
    from prototxt.io import read_net
    net = read_net(args.net)
    phase = None if args.phase == "ALL" else getattr(caffe_pb2, args.phase)
    print(draw(net, args.out, args.rankdir, phase))
    return 0
