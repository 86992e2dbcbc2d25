"""Record OpenCV's INTER_LINEAR resize of small uint8 images, as real Caffe 1.0 does it.

    python tests/tools/record_cv_resize.py [--out tests/data/cv_resize.npz]

Needs Caffe's ``convert_imageset`` on PATH (Debian's caffe package, linked to OpenCV 4.5).
Every case is a seeded random image (``case_image``), written as a PNG (RGB, or L for one
channel), converted by ``convert_imageset --resize_height=H --resize_width=W`` (``--gray``
for one channel) without ``--encoded``, so each record holds OpenCV's resized pixels as raw
BGR (or gray) bytes. The npz holds, per case, the seed, the source and destination shapes and
the resized pixels (concatenated, flattened H x W x C); tests/test_cv_resize.py regenerates
the inputs from the seeds and compares our resize with these bytes on machines without Caffe.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

# (source height, width, channels, destination height, width): up- and down-scaling, odd
# ratios, 1-pixel sizes, identity, exact 2x (OpenCV's area path), vector/scalar row widths.
CASES = [
    (10, 12, 3, 7, 9), (10, 12, 1, 7, 9), (7, 9, 3, 10, 12), (5, 5, 1, 16, 16),
    (16, 16, 3, 8, 8), (16, 14, 1, 8, 7), (12, 8, 3, 6, 4), (9, 11, 3, 9, 11),
    (9, 11, 1, 9, 11), (1, 1, 3, 5, 7), (1, 7, 1, 4, 3), (6, 1, 3, 3, 5),
    (13, 15, 3, 1, 1), (13, 15, 1, 1, 9), (8, 13, 3, 16, 5), (3, 4, 1, 16, 16),
    (16, 16, 3, 15, 15), (16, 16, 1, 3, 3), (11, 7, 3, 16, 11), (15, 13, 1, 6, 10),
    (2, 3, 3, 7, 16), (16, 9, 3, 4, 3), (14, 16, 3, 7, 16), (10, 10, 1, 10, 5),
    (12, 12, 3, 9, 9), (16, 11, 3, 13, 16),
]


def case_image(seed, h, w, c):
    """The input of one case: uint8 (h, w) for one channel, (h, w, c) BGR otherwise."""
    shape = (h, w) if c == 1 else (h, w, c)
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def opencv_resize(images, height, width, tool="convert_imageset"):
    """Resize uint8 images (all gray (h, w) or all BGR (h, w, 3)) to height x width with
    real Caffe's convert_imageset; returns the resized arrays in the same layout."""
    from PIL import Image

    from caffe_compat.proto import caffe_pb2
    import lmdb

    gray = images[0].ndim == 2
    tmp = tempfile.mkdtemp(prefix="cv_resize.")
    try:
        lines = []
        for i, img in enumerate(images):
            name = f"img_{i:04d}.png"
            pixels = img if gray else img[:, :, ::-1]  # BGR -> RGB for the PNG
            Image.fromarray(np.ascontiguousarray(pixels)).save(os.path.join(tmp, name))
            lines.append(f"{name} {i}\n")
        with open(os.path.join(tmp, "list.txt"), "w") as f:
            f.writelines(lines)
        cmd = [tool, f"--resize_height={height}", f"--resize_width={width}", "--backend=lmdb"]
        cmd += ["--gray"] if gray else []
        cmd += [tmp + "/", os.path.join(tmp, "list.txt"), os.path.join(tmp, "db")]
        env = dict(os.environ, GLOG_logtostderr="1", GLOG_minloglevel="2")
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        out = []
        with lmdb.open(os.path.join(tmp, "db"), readonly=True, lock=False) as db, \
                db.begin() as txn:
            for i, (_, value) in enumerate(txn.cursor()):
                d = caffe_pb2.Datum.FromString(value)
                assert d.label == i and not d.encoded
                chw = np.frombuffer(d.data, np.uint8).reshape(d.channels, d.height, d.width)
                out.append(chw[0].copy() if gray else chw.transpose(1, 2, 0).copy())
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def record(cases, first_seed=1000):
    """cases -> {"cases": int32 (n, 6) rows (seed, h, w, c, dst_h, dst_w), "pixels": uint8}."""
    rows, results = [], {}
    groups = {}
    for i, (h, w, c, dh, dw) in enumerate(cases):
        rows.append((first_seed + i, h, w, c, dh, dw))
        groups.setdefault((dh, dw, c), []).append(i)
    for (dh, dw, c), members in groups.items():
        imgs = [case_image(*rows[i][:4]) for i in members]
        for i, out in zip(members, opencv_resize(imgs, dh, dw)):
            results[i] = out
    pixels = np.concatenate([results[i].ravel() for i in range(len(cases))])
    return {"cases": np.array(rows, dtype=np.int32), "pixels": pixels}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "data", "cv_resize.npz"))
    args = parser.parse_args()
    data = record(CASES)
    np.savez_compressed(args.out, **data)
    print(f"{len(CASES)} cases, {data['pixels'].size} pixels -> {args.out}")


if __name__ == "__main__":
    main()
