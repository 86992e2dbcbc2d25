"""tscaffe reproduce mnist|cifar10|vgg16: the 2017 experiments end to end (see solver.reproduce)."""


def add_arguments(p):
    p.add_argument("experiment", choices=["mnist", "cifar10", "vgg16"],
                   help="mnist: LeNet on the embedded digits (or --data); cifar10: the CIFAR-10 "
                        "nets (needs --data with the CIFAR-10 batches, binary or python version); vgg16: the "
                        "VGG-16 student of 2017 (its recipe vs tscaffe's), no labels, from "
                        "--teacher or a LeNet teacher trained here")
    p.add_argument("--data", default=None,
                   help="mnist: a folder of MNIST / Fashion-MNIST IDX files; cifar10: the "
                        "folder of data_batch_*.bin and test_batch.bin")
    p.add_argument("-o", "--output", default=None, help="output folder (default runs/EXPERIMENT)")
    p.add_argument("--iterations", type=int, default=None,
                   help="iterations of each student (default mnist 1000, cifar10 2000)")
    p.add_argument("--teacher-iterations", type=int, default=None,
                   help="iterations of the teacher (default mnist 3000, cifar10 4000)")
    p.add_argument("--lambdas", default=None,
                   help="comma-separated λ sweep (teacher-loss weight; default 0,0.25,0.5,0.75,1)")
    p.add_argument("--temperature", type=float, default=None, help="KD temperature")
    p.add_argument("--subset", default=None, help="TRAIN,TEST: only the first samples")
    p.add_argument("--teacher", default=None,
                   help="vgg16: an ONNX teacher taking raw pixels (default: train a LeNet)")
    p.add_argument("--width", type=float, default=None,
                   help="vgg16: the student's width multiplier (default 0.125)")


def run(args):
    from caffe_compat.errors import CaffeError
    from solver import reproduce as R

    out = args.output or f"runs/{args.experiment}"
    kwargs = {}
    if args.iterations is not None:
        kwargs["student_iterations"] = args.iterations
    if args.teacher_iterations is not None:
        kwargs["teacher_iterations"] = args.teacher_iterations
    if args.lambdas:
        try:
            kwargs["lambdas"] = tuple(float(v) for v in args.lambdas.split(","))
        except ValueError:
            raise CaffeError(f"--lambdas {args.lambdas!r}: expected numbers such as 0,0.5,1") from None
        if any(not 0 <= v <= 1 for v in kwargs["lambdas"]):
            raise CaffeError(f"--lambdas {args.lambdas!r}: each λ must lie in [0, 1]")
    if args.subset:
        try:
            kwargs["subset"] = tuple(int(v) for v in args.subset.split(","))
        except ValueError:
            raise CaffeError(f"--subset {args.subset!r}: expected TRAIN,TEST counts") from None
    if args.experiment == "vgg16":
        kwargs.pop("lambdas", None)
        if "student_iterations" in kwargs:
            kwargs["iterations"] = kwargs.pop("student_iterations")
        teacher, students = R.reproduce_vgg16(out, data=args.data, teacher=args.teacher,
                                              width=args.width, **kwargs)
    elif args.experiment == "mnist":
        teacher, students = R.reproduce_mnist(out, data=args.data, temperature=args.temperature,
                                              **kwargs)
    else:
        teacher, students = R.reproduce_cifar10(out, args.data, temperature=args.temperature,
                                                **kwargs)
    print(f"report: {out}/report.md")
    print(f"agreement with the teacher, at a glance: {out}/agreement.png")
    if teacher["accuracy"] is not None:
        print(f"teacher accuracy={teacher['accuracy']:.4f}")
    for s in students:
        acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.4f}"
        print(f"{s['name']}: accuracy={acc} agreement={s['agreement']:.4f} kl={s['kl']:.4f}")
    return 0
