"""How close a teacher's test images sit to its decision boundaries, and where a student
disagrees with it (issue 23: why the Fashion-MNIST BatchNorm teacher's students stop near
0.96 top-1 agreement where the MNIST client's reach 0.995).

For every test image of an MNIST-format folder, the teacher's logits (onnxruntime, the raw
pixels times ``--teacher-scale``) give its top-2 margin (largest logit minus the second).
The margins are put in units of the median logit spread (largest minus smallest logit), so
that teachers of any logit scale compare; an image whose margin is a small fraction of the
spread is one a small change of the function flips. With ``--student`` (a student ONNX
export of ``tscaffe distill``, fed the pixels times ``--student-scale``, 1/256 as the
distill nets' data layer), the student's top-1 agreement is given overall and per margin
band, so the table says how much of the disagreement is at the boundary.

    python bench/teacher_margins.py TEACHER.onnx DATA_DIR [--student S.onnx]

Prints a Markdown table; no file is written.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

BANDS = (0.02, 0.05, 0.1, 0.2)   # margin / median spread


def run_onnx(path, images, scale, batch=1000):
    """The logits of ``path`` on ``images`` (uint8, N x 28 x 28 or N x 1 x 28 x 28) times
    ``scale``, through the teacher's own runner (solver.teacher.model.OnnxModel: the
    layout the graph asks for, a softmax output read as log-probabilities)."""
    from solver.teacher.model import OnnxModel

    x = images.reshape(len(images), 1, *images.shape[-2:]).astype(np.float32)
    return OnnxModel(path, scale=scale).logits(x, batch_size=batch)


def margins(logits):
    """(top-2 margin, median spread) of each row of ``logits``."""
    s = np.sort(logits, axis=1)
    return s[:, -1] - s[:, -2], float(np.median(s[:, -1] - s[:, 0]))


def table(teacher_logits, labels, student_logits=None):
    """Markdown lines: accuracy, spread, and per margin band the share of the test images
    (and the student's agreement there)."""
    margin, spread = margins(teacher_logits)
    top = teacher_logits.argmax(1)
    lines = [f"teacher test accuracy {np.mean(top == labels):.4f}; median logit spread "
             f"{spread:.3g}; {len(labels):,} test images", ""]
    agree = None
    if student_logits is not None:
        agree = student_logits.argmax(1) == top
        lines.insert(1, f"student top-1 agreement {agree.mean():.4f} "
                        f"({int((~agree).sum())} images disagree)")
    head = "| margin / spread | share of the test images |"
    rule = "|---|---|"
    if agree is not None:
        head += " student agreement there | disagreements there |"
        rule += "---|---|"
    lines += [head, rule]
    lo = 0.0
    for hi in BANDS + (np.inf,):
        band = (margin >= lo * spread) & (margin < hi * spread)
        name = f"{lo:g} - {hi:g}" if np.isfinite(hi) else f">= {lo:g}"
        row = f"| {name} | {band.mean():.4f} |"
        if agree is not None:
            inside = agree[band]
            row += (f" {inside.mean():.4f} |" if inside.size else " - |")
            row += f" {int((~inside).sum())} |"
        lines.append(row)
        lo = hi
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("teacher")
    ap.add_argument("data", help="an MNIST-format folder (its t10k files are read)")
    ap.add_argument("--teacher-scale", type=float, default=1.0,
                    help="the teacher's input is the pixels (0-255) times this (default 1)")
    ap.add_argument("--student", help="a student ONNX export to compare")
    ap.add_argument("--student-scale", type=float, default=1 / 256,
                    help="the student's input is the pixels times this (default 1/256)")
    args = ap.parse_args(argv)
    from caffe_compat.data.datasets import load_mnist_dir

    _, _, images, labels = load_mnist_dir(args.data)
    t = run_onnx(args.teacher, images, args.teacher_scale)
    s = run_onnx(args.student, images, args.student_scale) if args.student else None
    print("\n".join(table(t, labels, s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
