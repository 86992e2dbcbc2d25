"""``tscaffe render CONFIG -o DIR``: write the net and solver prototxts of an experiment config."""
import sys


def add_arguments(parser):
    parser.add_argument("config", help="a YAML config (path, or a name in templates/configs: "
                        "mnist_lenet, cifar10_ts, cifar10_mini, cifar10_nin, "
                        "imagenet_alexnet_vgg16, examples)")
    parser.add_argument("-o", "--out", "-out", default=".", help="output folder (default: .)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="render only these file names (without .prototxt)")
    parser.add_argument("--list", action="store_true", help="list the shipped configs")


def run(args):
    from prototxt.render import list_configs, render_config, write_rendered
    if args.list:
        print("\n".join(list_configs()))
        return 0
    files = render_config(args.config)
    if args.only:
        wanted = {n if n.endswith(".prototxt") else n + ".prototxt" for n in args.only}
        missing = wanted - set(files)
        if missing:
            print(f"tscaffe render: not in {args.config}: {', '.join(sorted(missing))}",
                  file=sys.stderr)
            return 1
        files = {k: v for k, v in files.items() if k in wanted}
    for path in write_rendered(files, args.out):
        print(path)
    return 0
