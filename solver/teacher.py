"""ONNX teachers run in onnxruntime, their input transform, the logit cache, and the
``ONNXTeacher`` Python layer that puts their logits into a student's net.

The layer, in a prototxt that stays valid under Caffe 1.0's schema::

    layer {
      name: "teacher"  type: "Python"  bottom: "data"  top: "teacher_logits"
      python_param {
        module: "solver.teacher"  layer: "ONNXTeacher"
        param_str: '{"onnx": "lenet5.onnx", "unscale": 256, "num_classes": 10}'
      }
    }

param_str (JSON):

==================  =========================================================================
``onnx``            path of the ONNX model (relative paths: to the working directory)
``teachers``        instead of ``onnx``: a list of objects with the keys below, one per
                    teacher (model blending); ``blend`` says how they are combined
``blend``           ``"prob"`` (default): the top is log(mean_k softmax(z_k)) — the log of the
                    averaged probabilities, whose softmax is that average; ``"logit"``: the
                    top is mean_k z_k
``input``/``output``  graph input / output names (default: the first of each)
``unscale``         multiplies the student's data blob first, to undo the student's own
                    transform (e.g. 256 when the student's Data layer scales by 1/256 and
                    the teacher wants raw pixels); default 1
``mean``            per-channel values subtracted next (one value or one per channel)
``scale``           multiplies after the mean (Caffe's transform order); default 1
``channel_order``   ``"BGR"`` (default: the blob's own order, Caffe's) or ``"RGB"`` (reverse)
``resize``          ``[h, w]``: bilinear resize to the teacher's input size
``crop``            ``[h, w]``: centre crop (after resize)
``threads``         onnxruntime intra-op threads (default: onnxruntime's choice)
``num_classes``     the student's class count: a teacher with another output width is an
                    error at setup, naming both shapes
``cache``           ``true`` (default): memoise logits per input sample; ``false``: always
                    run the teacher (use it when the data transform is random: crop/mirror)
``data``            the dataset's path: the cache file is stored next to it, named by the
                    model's, the transform's and the dataset's hashes
``cache_file``      an explicit cache file instead (overrides ``data``)
==================  =========================================================================

The teacher is never part of the student's backward pass (its bottom gets no gradient)
and its activations live in onnxruntime, not in the Net: the Net holds only the logits top.

The logit cache maps a sample's bytes (the student's data blob for that sample) to the
teacher's logits, so it is correct for any data order and any batch size; it is keyed by the
model's bytes and the transform, so a changed ONNX file never reuses stale logits.
"""
import hashlib
import io
import json
import os

import numpy as np

from caffe_compat.errors import CaffeError, fmt_shape
from caffe_compat.io import atomic_write_bytes
from caffe_compat.layers.base import Layer
from caffe_compat.layers.distillation import log_softmax

_TEACHER_KEYS = ("onnx", "input", "output", "unscale", "mean", "scale", "channel_order",
                 "resize", "crop", "threads")
_LAYER_KEYS = _TEACHER_KEYS + ("teachers", "blend", "num_classes", "cache", "data", "cache_file")


class TeacherError(CaffeError):
    """A teacher model cannot be loaded or does not fit the data/student."""


def file_sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def dataset_sha256(path):
    """Hash of a dataset: a file's bytes, or every file under a folder (relative names and
    bytes; LMDB lock files and hidden entries such as the teacher cache left out)."""
    if not os.path.isdir(path):
        return file_sha256(path)
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name == "lock.mdb" or name.startswith("."):
                continue
            full = os.path.join(root, name)
            h.update(os.path.relpath(full, path).encode())
            h.update(file_sha256(full).encode())
    return h.hexdigest()


def resize_bilinear(x, height, width):
    """Bilinear resize of (N, C, H, W) with half-pixel centres (PIL/OpenCV convention)."""
    n, c, h, w = x.shape
    if (h, w) == (height, width):
        return x

    def axis_weights(src, dst):
        pos = (np.arange(dst) + 0.5) * (src / dst) - 0.5
        pos = np.clip(pos, 0, src - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, (pos - lo).astype(x.dtype)

    y0, y1, wy = axis_weights(h, height)
    x0, x1, wx = axis_weights(w, width)
    rows = x[:, :, y0, :] * (1 - wy)[:, None] + x[:, :, y1, :] * wy[:, None]
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx


class OnnxTeacher:
    """One ONNX model in an onnxruntime session, with its own input transform."""

    def __init__(self, onnx, input=None, output=None, unscale=1.0, mean=None, scale=1.0,
                 channel_order="BGR", resize=None, crop=None, threads=None):
        import onnxruntime as ort

        if not onnx or not os.path.isfile(onnx):
            raise TeacherError(f"teacher model not found: {onnx!r}")
        self.path = onnx
        self.model_sha256 = file_sha256(onnx)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(onnx, opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own types for bad files
            raise TeacherError(f"cannot load teacher {onnx}: {e}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        self.input_name = input or inputs[0].name
        self.output_name = output or outputs[0].name
        if self.input_name not in [i.name for i in inputs]:
            raise TeacherError(f"teacher {onnx} has no input '{self.input_name}' "
                               f"(inputs: {[i.name for i in inputs]})")
        if self.output_name not in [o.name for o in outputs]:
            raise TeacherError(f"teacher {onnx} has no output '{self.output_name}' "
                               f"(outputs: {[o.name for o in outputs]})")
        self.input_shape = next(i.shape for i in inputs if i.name == self.input_name)
        self.unscale = float(unscale)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32).reshape(-1)
        self.scale = float(scale)
        if channel_order not in ("BGR", "RGB"):
            raise TeacherError(f"channel_order must be 'BGR' or 'RGB', got {channel_order!r}")
        self.reverse_channels = channel_order == "RGB"
        self.resize = tuple(resize) if resize else None
        self.crop = tuple(crop) if crop else None
        self.runs = 0            # onnxruntime calls (tests and benchmarks count them)
        self.samples_run = 0
        self.transform_key = json.dumps(
            [self.unscale, None if self.mean is None else self.mean.tolist(), self.scale,
             channel_order, self.resize, self.crop], sort_keys=True)

    def transform(self, x):
        """The student's data blob (N, C, H, W) -> the teacher's input."""
        x = np.asarray(x, dtype=np.float32)
        if self.unscale != 1.0:
            x = x * np.float32(self.unscale)
        if self.mean is not None:
            c = x.shape[1]
            if self.mean.size not in (1, c):
                raise TeacherError(f"teacher {self.path}: {self.mean.size} mean values for "
                                   f"{c} channels")
            x = x - self.mean.reshape((1, -1) + (1,) * (x.ndim - 2))
        if self.scale != 1.0:
            x = x * np.float32(self.scale)
        if self.reverse_channels:
            x = x[:, ::-1]
        if self.resize:
            x = resize_bilinear(x, *self.resize)
        if self.crop:
            ch, cw = self.crop
            h, w = x.shape[2:]
            if ch > h or cw > w:
                raise TeacherError(f"teacher {self.path}: crop {ch}x{cw} larger than input {h}x{w}")
            top, left = (h - ch) // 2, (w - cw) // 2
            x = x[:, :, top:top + ch, left:left + cw]
        return np.ascontiguousarray(x, dtype=np.float32)

    def check_input(self, sample_shape):
        """Raise a clear error if transformed data of ``sample_shape`` cannot feed the model."""
        probe = self.transform(np.zeros((1,) + tuple(sample_shape), np.float32))
        want = self.input_shape
        got = probe.shape
        fixed = [d if isinstance(d, int) else None for d in want]
        if len(fixed) != len(got) or any(f is not None and f != g for f, g in zip(fixed[1:], got[1:])):
            raise TeacherError(
                f"teacher {self.path} expects input {self.input_name} of shape "
                f"{['N' if f is None else f for f in fixed]}, but the data gives "
                f"{list(got)} after the teacher's transform (data sample shape "
                f"{list(sample_shape)}); set 'resize'/'crop'/'channel_order' in param_str")
        return self.run(probe)

    def run(self, teacher_input):
        self.runs += 1
        self.samples_run += teacher_input.shape[0]
        try:
            out = self.session.run([self.output_name], {self.input_name: teacher_input})[0]
        except Exception as e:
            raise TeacherError(f"teacher {self.path} failed on input of shape "
                               f"{fmt_shape(teacher_input.shape)}: {e}") from None
        return np.asarray(out, dtype=np.float32).reshape(teacher_input.shape[0], -1)

    def logits(self, data, batch_size=None):
        """Logits for a student data blob; large inputs go through in batches."""
        n = data.shape[0]
        step = batch_size or n or 1
        parts = [self.run(self.transform(data[i:i + step])) for i in range(0, n, step)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


class TeacherEnsemble:
    """One or several teachers combined: averaged probabilities (as log-probs) or logits."""

    def __init__(self, teachers, blend="prob"):
        if blend not in ("prob", "logit"):
            raise TeacherError(f"blend must be 'prob' or 'logit', got {blend!r}")
        self.teachers = teachers
        self.blend = blend
        key = [blend] + [[t.model_sha256, t.transform_key] for t in teachers]
        self.key = hashlib.sha256(json.dumps(key).encode()).hexdigest()

    @property
    def runs(self):
        return sum(t.runs for t in self.teachers)

    def check_input(self, sample_shape):
        outs = [t.check_input(sample_shape) for t in self.teachers]
        widths = {o.shape[1] for o in outs}
        if len(widths) != 1:
            raise TeacherError(f"blended teachers disagree on the number of classes: {sorted(widths)}")
        return widths.pop()

    def logits(self, data, batch_size=None):
        outs = [t.logits(data, batch_size) for t in self.teachers]
        if len(outs) == 1:
            return outs[0]
        if self.blend == "logit":
            return np.mean(outs, axis=0).astype(np.float32)
        probs = np.mean([np.exp(log_softmax(o.astype(np.float64))) for o in outs], axis=0)
        return np.log(np.maximum(probs, 1e-45)).astype(np.float32)


def sample_keys(data):
    """One 16-byte digest per sample of a batch (the cache's keys)."""
    flat = np.ascontiguousarray(data, dtype=np.float32).reshape(data.shape[0], -1)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


class LogitCache:
    """Teacher logits memoised per sample, optionally backed by an .npz file.

    The file holds ``keys`` (M, 16) uint8 digests of the samples and ``logits`` (M, C);
    it is written atomically (temp file + rename), so an interrupted run never leaves a
    broken cache behind.
    """

    def __init__(self, path=None):
        self.path = path
        self.index = {}
        self.rows = []
        self.dirty = 0
        if path and os.path.exists(path):
            try:
                with np.load(path) as z:
                    keys, logits = z["keys"], z["logits"]
            except Exception as e:
                raise TeacherError(f"logit cache {path} is unreadable ({e}); delete it") from None
            self.rows = list(logits)
            self.index = {bytes(k): i for i, k in enumerate(keys)}

    def __len__(self):
        return len(self.rows)

    def lookup(self, keys):
        return [self.index.get(k) for k in keys]

    def add(self, keys, logits):
        for k, row in zip(keys, logits):
            if k not in self.index:
                self.index[k] = len(self.rows)
                self.rows.append(np.array(row, dtype=np.float32))
                self.dirty += 1

    def get(self, idx):
        return np.stack([self.rows[i] for i in idx])

    def save(self):
        if not self.path or not self.dirty:
            return
        keys = np.frombuffer(b"".join(self.index.keys()), dtype=np.uint8).reshape(-1, 16)
        order = np.fromiter(self.index.values(), dtype=np.int64, count=len(self.index))
        logits = np.stack(self.rows)[order]
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, keys=keys, logits=logits)
        atomic_write_bytes(self.path, buf.getvalue())
        self.dirty = 0


_OPEN_CACHES = {}


def open_cache(path):
    """One LogitCache per file in a process, so the TRAIN and TEST nets' teacher layers
    share entries and never overwrite each other's saves."""
    if path is None:
        return LogitCache(None)
    key = os.path.abspath(path)
    if key not in _OPEN_CACHES:
        _OPEN_CACHES[key] = LogitCache(key)
    return _OPEN_CACHES[key]


def _writable_dir(folder):
    try:
        os.makedirs(folder, exist_ok=True)
        return os.access(folder, os.W_OK)
    except OSError:
        return False


def cache_path_for(data_path, ensemble):
    """Where the cache of ``ensemble`` on the dataset at ``data_path`` lives: in a
    ``.tscaffe-teacher-cache`` folder next to the data, named by the teachers' hash and the
    dataset's hash; where the data's folder is read-only, in ~/.cache/tscaffe instead."""
    if not os.path.exists(data_path):
        raise TeacherError(f"teacher cache: dataset {data_path!r} not found")
    data_path = os.path.abspath(data_path)
    base = os.path.dirname(data_path) if os.path.isfile(data_path) else data_path
    folder = os.path.join(base, ".tscaffe-teacher-cache")
    if not _writable_dir(folder):
        folder = os.path.join(os.path.expanduser("~"), ".cache", "tscaffe", "teacher-cache")
        os.makedirs(folder, exist_ok=True)
    name = (f"{os.path.basename(data_path.rstrip(os.sep))}-teacher-{ensemble.key[:16]}"
            f"-data-{dataset_sha256(data_path)[:16]}.npz")
    return os.path.join(folder, name)


def build_ensemble(params, error=TeacherError):
    specs = params.get("teachers")
    if specs is None:
        specs = [{k: params[k] for k in _TEACHER_KEYS if k in params}]
    elif "onnx" in params:
        raise error("give either 'onnx' or 'teachers', not both")
    teachers = []
    for spec in specs:
        unknown = sorted(set(spec) - set(_TEACHER_KEYS))
        if unknown:
            raise error(f"unknown teacher key(s) {unknown}; known: {list(_TEACHER_KEYS)}")
        if "onnx" not in spec:
            raise error("a teacher needs an 'onnx' model path")
        teachers.append(OnnxTeacher(**spec))
    return TeacherEnsemble(teachers, params.get("blend", "prob"))


class CachedTeacher:
    """An ensemble behind a logit cache: ``logits(batch)`` runs the teacher only on misses."""

    def __init__(self, ensemble, cache=None):
        self.ensemble = ensemble
        self.cache = cache

    def logits(self, data):
        if self.cache is None:
            return self.ensemble.logits(data)
        keys = sample_keys(data)
        found = self.cache.lookup(keys)
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            fresh = self.ensemble.logits(data[missing])
            self.cache.add([keys[i] for i in missing], fresh)
            found = self.cache.lookup(keys)
        elif self.cache.dirty:
            # A batch entirely from the cache after new entries: a pass over the data has
            # wrapped around, a good moment to persist what was learned.
            self.cache.save()
        return self.cache.get(found)


class ONNXTeacher(Layer):
    """Python layer: top = the teacher's logits for the bottom's samples (no backward)."""

    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        from caffe_compat.layers.distillation import parse_param_str

        text = getattr(self, "param_str", "") or self.layer_param.python_param.param_str
        params = parse_param_str(self, text, _LAYER_KEYS)
        try:
            ensemble = build_ensemble(params)
            width = ensemble.check_input(bottom[0].shape[1:])
        except TeacherError as e:
            raise self.error(str(e)) from None
        classes = params.get("num_classes")
        if classes is not None and int(classes) != width:
            raise self.error(f"the teacher gives {width} classes but the student has {classes}",
                             teacher_output=(bottom[0].shape[0], width),
                             student_output=(bottom[0].shape[0], int(classes)))
        self.num_classes = width
        cache = None
        if params.get("cache", True):
            path = params.get("cache_file")
            if path is None and params.get("data"):
                path = cache_path_for(params["data"], ensemble)
            cache = open_cache(path)
        self.teacher = CachedTeacher(ensemble, cache)

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape[0], self.num_classes)

    def allow_force_backward(self, bottom_index):
        return False

    def forward(self, bottom, top):
        top[0].data[...] = self.teacher.logits(bottom[0].data)

    def backward(self, top, propagate_down, bottom):
        if propagate_down and propagate_down[0]:
            raise self.error("the teacher is frozen: nothing back-propagates into its input")

    def close(self):
        if self.teacher.cache is not None:
            self.teacher.cache.save()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
