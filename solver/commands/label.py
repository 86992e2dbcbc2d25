"""tscaffe label --teacher T.onnx --data DB: precompute a teacher's logits (the logit cache).

The cache is the one the ONNXTeacher layer reads: stored next to the dataset, named by the
teachers' and the dataset's hashes, keyed per sample by the bytes of the student's data blob.
So ``--scale`` / ``--mean-value`` must be the student's Data-layer transform, and the teacher
options must be the layer's param_str values (``--unscale`` defaults to 1 / scale, the raw
pixels most teachers want).
"""
import json
import os
import time


def add_arguments(p):
    p.add_argument("--teacher", action="append", required=True,
                   help="ONNX teacher (repeat for a blended ensemble)")
    p.add_argument("--data", required=True, help="LMDB folder (of Datum records)")
    p.add_argument("--scale", type=float, default=0.00390625,
                   help="the student's transform_param scale (default 0.00390625)")
    p.add_argument("--mean-value", type=float, action="append", default=None,
                   help="the student's transform_param mean_value (repeatable)")
    p.add_argument("--unscale", type=float, default=None,
                   help="teacher param 'unscale' (default: 1/scale)")
    p.add_argument("--teacher-params", default="{}",
                   help="more teacher param_str keys as JSON (mean, scale, resize, crop, ...)")
    p.add_argument("--blend", choices=["prob", "logit"], default="prob")
    p.add_argument("--batch", type=int, default=256, help="onnxruntime batch (default 256)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")


def teacher_params(args):
    extra = json.loads(args.teacher_params)
    unscale = args.unscale if args.unscale is not None else 1.0 / args.scale
    specs = []
    for path in args.teacher:
        spec = {"onnx": path, "unscale": unscale, **extra}
        if args.threads:
            spec["threads"] = args.threads
        specs.append(spec)
    if len(specs) == 1:
        return specs[0]
    return {"teachers": specs, "blend": args.blend}


def run(args):
    import numpy as np
    from tqdm import tqdm

    from caffe_compat.data.lmdb_source import LMDBSource, read_record
    from caffe_compat.data.transformer import DataTransformer
    from caffe_compat.proto import caffe_pb2
    from caffe_compat.errors import CaffeError
    from solver.teacher import CachedTeacher, build_ensemble, cache_path_for, open_cache

    if not os.path.isdir(args.data):
        raise CaffeError(f"--data {args.data!r}: not an LMDB folder")
    params = teacher_params(args)
    ensemble = build_ensemble(params)
    source = LMDBSource(args.data)
    path = cache_path_for(args.data, ensemble)
    cache = open_cache(path)
    teacher = CachedTeacher(ensemble, cache)
    # The student's own Data-layer transform (TEST phase: deterministic), so the cache keys
    # are the bytes the ONNXTeacher layer will see.
    transform = caffe_pb2.TransformationParameter(scale=args.scale,
                                                  mean_value=args.mean_value or [])
    transformer = DataTransformer(transform, phase=1)
    start, runs0, n = time.time(), ensemble.runs, 0
    batch = []

    def flush():
        teacher.logits(transformer.transform(np.stack(batch)))
        batch.clear()

    with tqdm(total=len(source), unit="img", desc="labelling", disable=None) as bar:
        for key, value in source.items():
            image, _ = read_record(key, value)
            batch.append(image)
            n += 1
            if len(batch) == args.batch:
                flush()
                bar.update(args.batch)
        if batch:
            left = len(batch)
            flush()
            bar.update(left)
    cache.save()
    secs = time.time() - start
    print(f"cache {path}: {len(cache)} samples, {ensemble.runs - runs0} teacher runs, "
          f"{n / max(secs, 1e-9):.0f} img/s")
    print("param_str for the ONNXTeacher layer:", json.dumps({**params, "data": args.data}))
    return 0
