"""tscaffe distill: teach a fixed student architecture from ONNX teacher(s), end to end."""
from solver.distill import DEFAULTS, STUDENTS


def add_arguments(p):
    d = DEFAULTS
    p.description = (
        "Render the student and teacher-student prototxts, train the student with the numpy "
        "solver from the ONNX teacher's logits (cached next to the data), then write the "
        "student's caffemodel, its ONNX export and a report. Training stops when the "
        "agreement on a held-out slice of the training images stops improving (--patience, "
        "--heldout; the best pass's weights are kept); the test split is scored once, at the "
        "end. The last printed line is machine-readable: agreement=... agreement_top5=... "
        "kl=... accuracy=... seconds=...")
    p.add_argument("--teacher", action="append", required=True,
                   help="ONNX teacher (repeat to blend several)")
    p.add_argument("--student", default="lenet", choices=STUDENTS,
                   help="student architecture (default lenet)")
    p.add_argument("--student-prototxt", help="your own student net instead of a template")
    p.add_argument("--width", type=float, default=None,
                   help="vgg16/alexnet: width multiplier of every layer (default 0.125 for "
                        "vgg16, 0.25 for alexnet)")
    p.add_argument("--bn", dest="bn", action="store_true", default=None,
                   help="vgg16: BatchNorm + Scale after each convolution (the default)")
    p.add_argument("--no-bn", dest="bn", action="store_false",
                   help="vgg16: plain convolutions, as the 2017 net")
    p.add_argument("--bn-fraction", type=float, default=None,
                   help="vgg16 with BatchNorm: the moving_average_fraction of its BatchNorm "
                        "layers, the weight of the old statistics at each iteration (default "
                        "0.99: about the last 100 batches; Caffe's default 0.999)")
    p.add_argument("--filler", choices=["msra", "xavier"], default=None,
                   help="vgg16: weight filler (default msra; the 2017 net used xavier). Each "
                        "template option is refused where the student's template does not "
                        "read it (prototxt/arch_options.py)")
    p.add_argument("--lr-policy", choices=["inv", "warmup_inv"], default=None,
                   help="warmup_inv (default): a linear warm-up over --warmup iterations, "
                        "then Caffe's inv (beyond Caffe); inv: Caffe's LeNet policy alone")
    p.add_argument("--warmup", type=int, default=None,
                   help=f"warm-up iterations (default: a tenth of --iterations, at most "
                        f"{d['warmup']})")
    p.add_argument("--data", default=None,
                   help="folder of MNIST-format IDX files (train-*/t10k-*, gzipped or not), "
                        "CIFAR-10 batches (binary or python version), an image folder "
                        "(train/ and test/ or val/, a subfolder per class), or two LMDBs "
                        "(TRAIN,TEST or a folder holding "
                        "*train*/ and *test*/ LMDBs); default: the embedded MNIST digits")
    p.add_argument("--no-labels", action="store_true",
                   help="train from the teacher alone (labels are only used to report accuracy)")
    p.add_argument("--loss", choices=["kd", "2017"], default="kd",
                   help="kd: Hinton's KL at temperature T (default); 2017: Softmax -> "
                        "SigmoidCrossEntropyLoss as the original nets")
    p.add_argument("--temperature", type=float, default=None,
                   help="KD temperature, applied to the scaled logits (default: from the "
                        "teacher's logits on a training sample, see --logit-scale)")
    p.add_argument("--logit-scale", type=float, default=None,
                   help="multiply the teacher's logits by this (default: standardise their "
                        "spread; 1 keeps the raw logits)")
    p.add_argument("--teacher-output", default=None,
                   help="the teacher graph's output that holds the logits (or probabilities) "
                        "when it has several")
    p.add_argument("--soft-weight", type=float, default=None,
                   help="λ: weight of the teacher loss; 1-λ goes to the label loss "
                        f"(default {d['soft_weight']:g}; ignored with --no-labels)")
    p.add_argument("--iterations", type=int, default=None,
                   help=f"the most training iterations (default {d['iterations']}); the run "
                        "stops earlier when the held-out agreement has not improved for "
                        "--patience test passes")
    p.add_argument("--patience", type=int, default=None,
                   help=f"test passes (every {d['test_interval']} iterations, or a fifth of "
                        f"--iterations) on the held-out training images (--heldout) without "
                        f"a better agreement before the run stops (default {d['patience']}); "
                        f"the student saved and scored is the best pass's. The test split "
                        f"is only scored once, at the end. 0: train on every training image "
                        f"up to --iterations and keep the last weights")
    p.add_argument("--lr-decays", type=int, default=None,
                   help=f"plateaus of the held-out agreement met by a smaller rate before "
                        f"the run stops (default {d['lr_decays']}): at each, the best pass's "
                        f"weights come back and base_lr is divided by 10 (Caffe's multistep, "
                        f"the steps placed by the plateau); the log says where. 0: stop at "
                        f"the first plateau")
    p.add_argument("--average", type=float, default=None,
                   help=f"decay of an exponential moving average of the student's weights "
                        f"(default {d['average']:g}; 0: none): the held-out passes score "
                        f"the average, and the best pass's average is the student saved "
                        f"and scored. 0.999 averages over about the last 1,000 iterations")
    p.add_argument("--shift", type=int, default=None,
                   help=f"train on the images moved by up to this many pixels (default "
                        f"{d['shift']}): Caffe's random crop from the training records padded "
                        f"with zeros, the teacher's logits of every shifted copy computed once "
                        f"into its logit cache before training; the held-out and test images "
                        f"are not moved. 0: the images as they are")
    p.add_argument("--mix", type=int, default=None,
                   help=f"also train on this many mixes per training image (default "
                        f"{d['mix']}): round(lam a + (1 - lam) b) of the image a and a random "
                        f"partner b, lam uniform in [0, 1] (mixup's inputs), each labelled by "
                        f"the teacher once into its logit cache before training; the held-out "
                        f"and test images are not mixed. Needs no label loss (--no-labels or "
                        f"--soft-weight 1). 0: the images as they are")
    p.add_argument("--heldout", type=int, default=None,
                   help="training images held out for --patience (seeded by --seed, never "
                        "trained on; the teacher labels them). Default: 1/12 of the training "
                        "set, at most 5,000 (MNIST: 5,000 of 60,000), at least 500 or a fifth "
                        "of a small set")
    p.add_argument("--lr", type=float, default=None,
                   help=f"base learning rate, SGD momentum 0.9, warm-up then inv policy. "
                        f"Default: probed at start-up: {d['base_lr']:g}, then its halvings "
                        f"down to {d['base_lr'] / 8:g}, each trained for 100 iterations from "
                        f"the same initial weights; the first whose loss comes down without "
                        f"rising above 1.5x its start is used (the log says why)")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"training batch (default {d['batch_size']})")
    p.add_argument("--teacher-params", default=None, action="append",
                   help="JSON: the teacher's own input transform relative to raw pixels "
                        "(once for every teacher, or once per --teacher, in their order), "
                        "checked before anything runs (mean, scale or std, resize, crop, pad "
                        "with fill, channel_order, layout NCHW/NHWC/flat, outputs "
                        "logits/probabilities, threads). torchvision Normalize(m, s): "
                        "'{\"mean\": [255m], \"std\": [255s]}'; Keras Rescaling(1/255): "
                        "'{\"scale\": 0.00392156862745098}'; LeNet-5's padded 32x32: "
                        "'{\"pad\": 2}'; an MLP on [N, 784]: '{\"layout\": \"flat\"}' "
                        "(detected)")
    p.add_argument("--blend", choices=["prob", "logit"], default="prob",
                   help="several teachers: average probabilities (default) or logits")
    p.add_argument("--subset", default=None,
                   help="TRAIN,TEST: use only the first samples of each split (quick runs)")
    p.add_argument("--seed", type=int, default=1, help="random_seed of the solver")
    p.add_argument("-o", "--output", required=True, help="output folder")


def student_options(args):
    """The student's template options from the flags, checked against the student's
    template (solver.distill.options.check_student_opts) before anything runs."""
    from solver.distill.options import check_student_opts

    opts = {"width": args.width, "bn": args.bn, "filler": args.filler,
            "bn_fraction": args.bn_fraction}
    check_student_opts(args.student, opts, flags=True)
    return opts


def solver_options(args):
    from caffe_compat.errors import CaffeError

    if args.lr_policy == "inv":
        return {"lr_policy": "inv"}
    if args.warmup is not None and args.warmup < 1:
        raise CaffeError(f"--warmup must be >= 1, got {args.warmup}")
    return None


def run(args):
    from caffe_compat.errors import CaffeError
    from solver.distill import distill, summary_line

    from solver.teacher.user_params import check_teacher_params

    teacher_params = check_teacher_params(args.teacher_params, len(args.teacher))
    subset = None
    if args.subset:
        try:
            subset = tuple(int(v) for v in args.subset.split(","))
            assert len(subset) == 2
        except (ValueError, AssertionError):
            raise CaffeError(f"--subset {args.subset!r}: expected TRAIN,TEST counts") from None
    report = distill(
        args.teacher, student=args.student, data=args.data, out=args.output,
        labels=not args.no_labels, loss=args.loss, temperature=args.temperature,
        iterations=args.iterations, base_lr=args.lr, batch_size=args.batch_size,
        soft_weight=args.soft_weight, teacher_params=teacher_params, blend=args.blend,
        student_prototxt=args.student_prototxt, subset=subset, seed=args.seed,
        logit_scale=args.logit_scale, teacher_output=args.teacher_output, echo=print,
        student_opts=student_options(args), solver_opts=solver_options(args),
        patience=args.patience, warmup=args.warmup, heldout=args.heldout,
        lr_decays=args.lr_decays, shift=args.shift,
        mix=args.mix, average=args.average)
    files = report["files"]
    print(f"log: {files['log']}")
    print(f"student: {files['caffemodel']}  {files['onnx']}")
    print(summary_line(report))
    return 0
