"""tscaffe label --teacher T.onnx --data DB: precompute a teacher's logits (the logit cache),
in this process or on a Dask cluster (``--scheduler``, see solver/teacher/labelling.py).

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
    p.add_argument("--teacher-params", default=None, action="append",
                   help="more teacher param_str keys as JSON (mean, scale, resize, crop, ...): "
                        "once for every teacher, or once per --teacher in their order")
    p.add_argument("--blend", choices=["prob", "logit"], default="prob")
    p.add_argument("--batch", type=int, default=256, help="onnxruntime batch (default 256)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    p.add_argument("--scheduler", default=None,
                   help="label on a Dask cluster: a scheduler address (tcp://host:8786; the "
                        "data and the cache folder must be on storage every worker reads) or "
                        "local:N for a LocalCluster of N worker processes (needs the cluster "
                        "extra: pip install 'tscaffe[cluster]')")
    p.add_argument("--shard-size", type=int, default=None,
                   help="records per Dask task, a multiple of --batch (default: at least 4 shards "
                        "per worker, at most 16 batches each)")


def teacher_params(args):
    from solver.teacher.user_params import check_teacher_params, per_teacher

    extras = per_teacher(check_teacher_params(args.teacher_params, len(args.teacher)),
                         len(args.teacher))
    unscale = args.unscale if args.unscale is not None else 1.0 / args.scale
    specs = []
    for path, extra in zip(args.teacher, extras):
        spec = {"onnx": path, "unscale": unscale, **extra}
        if args.threads:
            spec["threads"] = args.threads
        specs.append(spec)
    if len(specs) == 1:
        return specs[0]
    return {"teachers": specs, "blend": args.blend}


def run(args):
    from tqdm import tqdm

    from caffe_compat.data.lmdb_source import LMDBSource, read_record
    from caffe_compat.errors import CaffeError
    from solver.teacher import cached_teacher, labelling

    if not os.path.isdir(args.data):
        raise CaffeError(f"--data {args.data!r}: not an LMDB folder")
    try:
        params = teacher_params(args)
    except json.JSONDecodeError as e:
        raise CaffeError(f"--teacher-params is not valid JSON: {e}") from None
    if args.batch < 1:
        raise CaffeError(f"--batch must be >= 1, got {args.batch}")
    if args.scheduler:
        client = labelling.connect(args.scheduler)
        try:
            r = labelling.label_on_dask(client, args.data, params, args.scale, args.mean_value,
                                        args.batch, args.shard_size)
        finally:
            client.close()
            if args.scheduler.startswith("local:") and client.cluster is not None:
                client.cluster.close()
        path = r["cache"]
        if r["shards_run"] == 0:
            print(f"cache {path}: complete already ({r['records']} samples, "
                  f"{r['shards']} shards); nothing to label")
        else:
            print(f"cache {path}: {r['cached']} samples; {r['shards_run']} of {r['shards']} "
                  f"shards labelled on {r['workers']} workers, {r['img_per_s']:.0f} img/s")
    else:
        source = LMDBSource(args.data)
        teacher = cached_teacher(dict(params, data=args.data),
                                 read_record(*source.first())[0].shape, announce=False)
        ensemble, cache, path = teacher.ensemble, teacher.cache, teacher.cache_path
        # The student's own Data-layer transform (TEST phase: deterministic), so the cache
        # keys are the bytes the ONNXTeacher layer will see.
        transformer = labelling.student_transformer(args.scale, args.mean_value)
        start, runs0 = time.time(), ensemble.runs
        with tqdm(total=len(source), unit="img", desc="labelling", disable=None) as bar:
            n = labelling.label_records(source.items(), transformer, teacher, args.batch,
                                        on_batch=bar.update)
        cache.save()
        secs = time.time() - start
        print(f"cache {path}: {len(cache)} samples, {ensemble.runs - runs0} teacher runs, "
              f"{n / max(secs, 1e-9):.0f} img/s")
    print("param_str for the ONNXTeacher layer:", json.dumps({**params, "data": args.data}))
    return 0
