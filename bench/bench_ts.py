"""Teacher-student iteration vs student-only iteration, and the Net's memory, on MNIST.

    python bench/bench_ts.py [--quick]

Two SGD solvers (lenet_solver settings, batch 64, one BLAS thread) over the same MNIST
training subset, fed through MemoryData (digits scaled by 1/256):

- student-only: Caffe's LeNet with SoftmaxWithLoss on the labels;
- teacher-student: the same LeNet, plus the ONNXTeacher Python layer (the shared client
  teacher ../shared/teachers/advertorch_lenet5_clean.onnx, param_str unscale 256,
  num_classes 10, in-memory logit cache) and the KnowledgeDistillation loss (T = 4) in place
  of SoftmaxWithLoss: no labels used.

The teacher-student solver first runs one epoch over the subset, so the logit cache holds
every sample; the timed steps then alternate A B A B (one step each) and the medians are
compared (target: TS <= 1.05 x student-only). The number of onnxruntime calls during the
timed steps is reported (it must be 0).

Memory: the sum of the bytes of every distinct array the Net holds (blob data and diffs,
parameter data and diffs; arrays shared between blobs, as Split tops, counted once) for
both nets, the exact difference, and the blobs it is made of. The target is the issue's
"the Net's peak memory equals the student's alone": the teacher may add only its logits top
(N x 10). Also the transient peak of one step (tracemalloc: numpy's temporaries, im2col
buffers; onnxruntime's arena is outside Python's allocator and not counted).
"""
import json
import os
import sys
import tempfile
import time
import tracemalloc

os.environ["OPENBLAS_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
from _common import median_ms, row  # noqa: E402

BATCH = 64
TEMPERATURE = 4


def ts_layers(onnx):
    param_str = json.dumps({"onnx": onnx, "unscale": 256, "num_classes": 10})
    kd = json.dumps({"temperature": TEMPERATURE})
    return f"""
layer {{ name: "teacher" type: "Python" bottom: "data" top: "teacher_logits"
  python_param {{ module: "solver.teacher" layer: "ONNXTeacher" param_str: '{param_str}' }} }}
layer {{ name: "kd_loss" type: "Python" bottom: "ip2" bottom: "teacher_logits" top: "kd_loss"
  loss_weight: 1
  python_param {{ module: "caffe_compat.layer_types.distillation" layer: "KnowledgeDistillation"
                  param_str: '{kd}' }} }}
"""


def net_texts(onnx):
    student = 'name: "student" ' + _common.MEMORY_INPUT + _common.student_lenet(loss=True)
    ts = 'name: "ts" ' + _common.MEMORY_INPUT + _common.student_lenet(loss=False) + ts_layers(onnx)
    return student, ts


def array_bytes(net):
    """{blob or param name: bytes} of the distinct arrays the Net holds, and their sum."""
    seen, parts = set(), {}

    def add(name, array):
        key = (array.__array_interface__["data"][0], array.nbytes)
        if array.nbytes and key not in seen:
            seen.add(key)
            parts[name] = parts.get(name, 0) + array.nbytes

    for name, blob in net.blobs.items():
        add(name, blob.data)
        if blob.diff_allocated:  # gradients are allocated on first use
            add(name, blob.diff)
    for layer, blobs in net.params.items():
        for k, blob in enumerate(blobs):
            add(f"{layer}[{k}]", blob.data)
            if blob.diff_allocated:
                add(f"{layer}[{k}]", blob.diff)
    return parts, sum(parts.values())


def step_peak_bytes(solver):
    """Transient peak of one solver step above what was allocated before it (tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        solver.step(1)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def teacher_of(solver):
    return next(l for l in solver.net.layers if l.type == "Python" and hasattr(l, "teacher"))


def main(quick=False):
    import numpy as np

    from caffe_compat.data.datasets import load_mnist_dir

    _common.quiet_logs()
    subset, steps = (4 * BATCH, 6) if quick else (20 * BATCH, 60)
    for path in (_common.MNIST_DIR, _common.TEACHER_ONNX):
        if not os.path.exists(path):
            return [row("TS iteration / student-only", None, None, "ms", verdict=f"no {path}")]
    images, labels, _, _ = load_mnist_dir(_common.MNIST_DIR)
    x = images[:subset].astype(np.float32) * np.float32(1 / 256)
    y = labels[:subset].astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        student_text, ts_text = net_texts(_common.TEACHER_ONNX)
        student = _common.make_solver(student_text, os.path.join(tmp, "student"))
        ts = _common.make_solver(ts_text, os.path.join(tmp, "ts"))
        for s in (student, ts):
            s.net.set_input_arrays(x, y)
        teacher = teacher_of(ts).teacher
        ts.step(subset // BATCH)  # one epoch: the logit cache is warm
        student.step(2)
        runs_before = teacher.ensemble.runs
        t_student, t_ts = [], []
        for _ in range(steps):
            for solver, times in ((student, t_student), (ts, t_ts)):
                t0 = time.perf_counter()
                solver.step(1)
                times.append(time.perf_counter() - t0)
        teacher_runs = teacher.ensemble.runs - runs_before
        cached = len(teacher.cache)
        parts_s, bytes_s = array_bytes(student.net)
        parts_t, bytes_t = array_bytes(ts.net)
        peak_s, peak_t = step_peak_bytes(student), step_peak_bytes(ts)
    a, b = median_ms(t_ts), median_ms(t_student)
    print(f"TS vs student-only: {steps} interleaved steps each, subset {subset} digits, "
          f"cache {cached} samples, teacher runs during timing: {teacher_runs}")
    print(f"  student-only {b:.2f} ms/step, TS {a:.2f} ms/step (medians)")
    extra = {k: v for k, v in parts_t.items() if parts_s.get(k) != v}
    missing = {k: v for k, v in parts_s.items() if parts_t.get(k) != v}
    print(f"  Net arrays: student {bytes_s:,} B, TS {bytes_t:,} B, difference "
          f"{bytes_t - bytes_s:+,} B")
    print(f"    only/different in TS: {extra}")
    print(f"    only/different in student: {missing}")
    print(f"  one step's transient peak (tracemalloc): student {peak_s:,} B, TS {peak_t:,} B")
    logits_bytes = 2 * BATCH * 10 * 4  # teacher_logits data + diff (float32)
    rows = [row("TS step (warm cache) / student-only step", a, b, "ms", target=1.05,
                verdict=None if teacher_runs == 0 else f"FAIL ({teacher_runs} teacher runs)")]
    diff = bytes_t - bytes_s
    others = {k: v for k, v in extra.items() if k not in ("teacher_logits", "kd_loss")}
    verdict = "PASS" if diff <= logits_bytes else (
        "FAIL: " + ", ".join(f"{k} {v:,} B" for k, v in others.items()))
    rows.append(row(f"TS Net arrays / student (diff {diff:+,} B; logits top {logits_bytes:,} B)",
                    float(bytes_t), float(bytes_s), "bytes", target="diff <= logits top",
                    verdict=verdict))
    rows.append(row("one step's transient peak, TS / student (tracemalloc)", float(peak_t),
                    float(peak_s), "bytes"))
    return rows


if __name__ == "__main__":
    print(_common.format_table(main(quick="--quick" in sys.argv)))
