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
``input``/``output``  graph input / output names (default: the first input; the output
                    whose width is the class count when there are several, else an error
                    listing them)
``unscale``         multiplies the student's data blob first, to undo the student's own
                    transform (e.g. 256 when the student's Data layer scales by 1/256 and
                    the teacher wants raw pixels); default 1
``mean``            per-channel values subtracted next (one value or one per channel)
``scale``           multiplies after the mean (Caffe's transform order); one value or one
                    per channel; default 1
``std``             divides after the mean instead of ``scale`` (one value or one per channel):
                    a torchvision ``Normalize(m, s)`` teacher on [0, 1] input is
                    ``{"mean": [255 m], "std": [255 s]}``; a [0, 1] teacher is
                    ``{"scale": 0.00392156862745098}``
``channel_order``   ``"BGR"`` (default: the blob's own order, Caffe's) or ``"RGB"`` (reverse)
``layout``          ``"NCHW"`` (Caffe's), ``"NHWC"`` (transposed last) or ``"auto"`` (default:
                    NHWC when the graph's input shape says so and NCHW does not fit)
``resize``          ``[h, w]``: bilinear resize to the teacher's input size
``crop``            ``[h, w]``: centre crop (after resize)
``threads``         onnxruntime intra-op threads (default: onnxruntime's choice)
``outputs``         what the graph outputs: ``"logits"``, ``"probabilities"`` (their log is
                    used: softmax of it gives the probabilities back) or ``"auto"`` (default:
                    probabilities when the output comes from a Softmax node of the graph;
                    ``tscaffe distill`` also checks the outputs on training data: rows in
                    [0, 1] summing to 1 count as probabilities)
``logit_scale``     multiplies the teacher's logits after the cache (the standardisation that
                    ``tscaffe distill`` derives from the teacher's logit spread); default 1
``num_classes``     the student's class count: a teacher with another output width is an
                    error at setup, naming both shapes
``cache``           ``true`` (default): memoise logits per input sample; ``false``: always
                    run the teacher (use it when the data transform is random: crop/mirror)
``data``            the dataset's path: the cache file is stored next to it, named by the
                    model's, the transform's and the dataset's hashes (where that folder is
                    read-only or another user's: in the user's cache directory, see
                    ``cache_folder_for``)
``cache_file``      an explicit cache file instead (overrides ``data``)
==================  =========================================================================

A graph with a fixed batch dimension (e.g. 1) is run in chunks of that size (the last one
zero-padded). The teacher is never part of the student's backward pass (its bottom gets no gradient)
and its activations live in onnxruntime, not in the Net: the Net holds only the logits top.

The logit cache maps a sample's bytes (the student's data blob for that sample) to the
teacher's logits, so it is correct for any data order and any batch size; it is keyed by the
model's bytes and the transform, so a changed ONNX file never reuses stale logits.
"""
import hashlib
import io
import json
import os
import tempfile

import numpy as np

from caffe_compat.errors import CaffeError, fmt_shape
from caffe_compat.io import atomic_write_bytes
from caffe_compat.layer_types.base import Layer
from caffe_compat.layer_types.distillation import log_softmax

_TEACHER_KEYS = ("onnx", "input", "output", "unscale", "mean", "scale", "std", "channel_order",
                 "layout", "resize", "crop", "threads", "outputs")
_LAYER_KEYS = _TEACHER_KEYS + ("teachers", "blend", "num_classes", "cache", "data", "cache_file",
                               "logit_scale")
OUTPUT_KINDS = ("auto", "logits", "probabilities")
# log(p) of a probability output: p below this (float32 underflow) is floored, so a
# confident probability teacher still gives finite log-probabilities.
PROB_FLOOR = 1e-30


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


def _per_channel(value, name, path):
    """One value or one per channel, as float32 (1, C, 1, 1)-broadcastable, or None."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise TeacherError(f"teacher {path}: '{name}' must be a number or a list of numbers, "
                           f"got {value!r}") from None
    return arr


def _graph_ends_in_softmax(path, output_name):
    """Whether ``output_name`` is made by a Softmax (through shape-only ops): probabilities."""
    import onnx

    try:
        graph = onnx.load(path, load_external_data=False).graph
    except Exception:
        return False
    producer = {o: n for n in graph.node for o in n.output}
    name = output_name
    for _ in range(16):
        node = producer.get(name)
        if node is None:
            return False
        if node.op_type == "Softmax":
            return True
        if node.op_type not in ("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast"):
            return False
        name = node.input[0]
    return False


def _dims(shape):
    dims = [str(d) if isinstance(d, int) else "N" if i == 0 else "?" for i, d in enumerate(shape)]
    return "[" + ", ".join(dims) + "]"


class OnnxTeacher:
    """One ONNX model in an onnxruntime session, with its own input transform."""

    def __init__(self, onnx, input=None, output=None, unscale=1.0, mean=None, scale=1.0,
                 std=None, channel_order="BGR", layout="auto", resize=None, crop=None,
                 threads=None, outputs="auto", num_classes=None):
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
        inputs, outputs_meta = self.session.get_inputs(), self.session.get_outputs()
        self.input_name = input or inputs[0].name
        if self.input_name not in [i.name for i in inputs]:
            raise TeacherError(f"teacher {onnx} has no input '{self.input_name}' "
                               f"(inputs: {[i.name for i in inputs]})")
        self.output_name = output or self._pick_output(outputs_meta, num_classes)
        if self.output_name not in [o.name for o in outputs_meta]:
            raise TeacherError(f"teacher {onnx} has no output '{self.output_name}' "
                               f"(outputs: {[o.name for o in outputs_meta]})")
        self.input_shape = next(i.shape for i in inputs if i.name == self.input_name)
        batch_dim = self.input_shape[0] if self.input_shape else None
        self.fixed_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        self.unscale = float(unscale)
        self.mean = _per_channel(mean, "mean", onnx)
        if std is not None:
            if scale != 1.0:
                raise TeacherError(f"teacher {onnx}: give 'scale' or 'std', not both")
            std = _per_channel(std, "std", onnx)
            if np.any(std <= 0):
                raise TeacherError(f"teacher {onnx}: 'std' must be > 0, got {std.tolist()}")
            scale = (1.0 / std.astype(np.float64)).astype(np.float32)
        self.scale = _per_channel(scale, "scale", onnx)
        if channel_order not in ("BGR", "RGB"):
            raise TeacherError(f"channel_order must be 'BGR' or 'RGB', got {channel_order!r}")
        if layout not in ("auto", "NCHW", "NHWC"):
            raise TeacherError(f"layout must be 'auto', 'NCHW' or 'NHWC', got {layout!r}")
        if outputs not in OUTPUT_KINDS:
            raise TeacherError(f"outputs must be one of {', '.join(OUTPUT_KINDS)}, got {outputs!r}")
        self.reverse_channels = channel_order == "RGB"
        self.layout = layout
        self.resize = tuple(resize) if resize else None
        self.crop = tuple(crop) if crop else None
        if outputs == "auto":
            outputs = ("probabilities" if _graph_ends_in_softmax(onnx, self.output_name)
                       else "logits")
        self.outputs = outputs
        self.runs = 0            # onnxruntime calls (tests and benchmarks count them)
        self.samples_run = 0
        self.transform_key = json.dumps(
            [self.unscale, None if self.mean is None else self.mean.tolist(),
             self.scale.tolist(), channel_order, self.resize, self.crop, layout,
             self.outputs, self.output_name], sort_keys=True)

    def _pick_output(self, outputs, num_classes):
        """The graph's output when none is named: the only one, or the only one whose last
        dimension is the class count; otherwise a clear error listing them."""
        if len(outputs) == 1:
            return outputs[0].name
        listing = ", ".join(f"{o.name} {_dims(o.shape)}" for o in outputs)
        if num_classes is not None:
            fits = [o for o in outputs if o.shape and o.shape[-1] == int(num_classes)]
            if len(fits) == 1:
                return fits[0].name
        raise TeacherError(f"teacher {self.path} has {len(outputs)} outputs ({listing}); name "
                           "the logits with --teacher-output NAME (param_str 'output')")

    def _nhwc(self, c):
        """Whether the graph wants channels last, for data with ``c`` channels."""
        if self.layout != "auto":
            return self.layout == "NHWC"
        shape = self.input_shape
        if len(shape) != 4:
            return False
        return shape[1] != c and shape[3] == c and isinstance(shape[1], int)

    def transform(self, x):
        """The student's data blob (N, C, H, W) -> the teacher's input."""
        x = np.asarray(x, dtype=np.float32)
        c = x.shape[1]
        if self.unscale != 1.0:
            x = x * np.float32(self.unscale)
        channel_shape = (1, -1) + (1,) * (x.ndim - 2)
        for name, values in (("mean", self.mean), ("scale", self.scale)):
            if values is not None and values.size not in (1, c):
                raise TeacherError(f"teacher {self.path}: {values.size} {name} values for "
                                   f"{c} channels")
        if self.mean is not None:
            x = x - self.mean.reshape(channel_shape)
        if self.scale.size > 1 or self.scale[0] != 1.0:
            x = x * self.scale.reshape(channel_shape)
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
        if x.ndim == 4 and self._nhwc(c):
            x = x.transpose(0, 2, 3, 1)
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
                f"{list(sample_shape)}); set 'resize'/'crop'/'channel_order'/'layout' in "
                "param_str (--teacher-params)")
        return self.run(probe)

    def _session_run(self, teacher_input):
        self.runs += 1
        try:
            out = self.session.run([self.output_name], {self.input_name: teacher_input})[0]
        except Exception as e:
            raise TeacherError(f"teacher {self.path} failed on input of shape "
                               f"{fmt_shape(teacher_input.shape)}: {e}") from None
        return np.asarray(out, dtype=np.float32).reshape(teacher_input.shape[0], -1)

    def run(self, teacher_input):
        """The graph's outputs for a transformed batch, as logits (log of probabilities)."""
        n = teacher_input.shape[0]
        self.samples_run += n
        k = self.fixed_batch
        if k is None or k == n:
            out = self._session_run(teacher_input)
        else:  # a graph exported with a fixed batch: chunks of k, the last one padded
            parts = []
            for i in range(0, n, k):
                chunk = teacher_input[i:i + k]
                m = chunk.shape[0]
                if m < k:
                    pad = np.zeros((k - m,) + chunk.shape[1:], chunk.dtype)
                    chunk = np.concatenate([chunk, pad])
                parts.append(self._session_run(chunk)[:m])
            out = np.concatenate(parts)
        if self.outputs == "probabilities":
            out = np.log(np.maximum(out, np.float32(PROB_FLOOR)))
        return out

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


CACHE_ENV = "TSCAFFE_CACHE_DIR"


def user_cache_root():
    """The user's cache directory for tscaffe: ``$TSCAFFE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/tscaffe``, else ``~/.cache/tscaffe``."""
    if os.environ.get(CACHE_ENV):
        return os.path.abspath(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(xdg), "tscaffe")


def folder_is_ours(folder):
    """Whether tscaffe may write into ``folder``: it exists, this user owns it, its mode
    lets its owner write (root honours the mode bits too: a folder marked read-only is
    somebody's data, even where root could write), and a file can really be created in it
    (a read-only mount says no here). A folder owned by another user counts as shared."""
    try:
        st = os.stat(folder)
    except OSError:
        return False
    if st.st_uid != os.geteuid() or not st.st_mode & 0o200:
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tscaffe-probe-"):
            pass
    except OSError:
        return False
    return True


def cache_folder_for(data_path):
    """(folder, why) for the logit cache of the dataset at ``data_path``:
    ``$TSCAFFE_CACHE_DIR/teacher-cache`` when that is set; else ``.tscaffe-teacher-cache``
    next to the data when the data's folder is the user's to write; else the user's cache
    directory (``cache_root``), so a read-only or shared data folder is never written."""
    data_path = os.path.abspath(data_path)
    base = os.path.dirname(data_path) if os.path.isfile(data_path) else data_path
    if os.environ.get(CACHE_ENV):
        return (os.path.join(user_cache_root(), "teacher-cache"),
                f"${CACHE_ENV} is set")
    beside = os.path.join(base, ".tscaffe-teacher-cache")
    if os.path.isdir(beside) and folder_is_ours(beside):
        return beside, "next to the data"
    if not os.path.isdir(beside) and folder_is_ours(base):
        return beside, "next to the data"
    return (os.path.join(user_cache_root(), "teacher-cache"),
            f"the data folder {base} is read-only or not this user's")


def cache_path_for(data_path, ensemble):
    """Where the cache of ``ensemble`` on the dataset at ``data_path`` lives (see
    ``cache_folder_for``), named by the teachers' hash and the dataset's hash."""
    if not os.path.exists(data_path):
        raise TeacherError(f"teacher cache: dataset {data_path!r} not found")
    data_path = os.path.abspath(data_path)
    folder, _ = cache_folder_for(data_path)
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
        teachers.append(OnnxTeacher(**spec, num_classes=params.get("num_classes")))
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


_ANNOUNCED = set()


def _announce_cache(path, why):
    """Say once per process where a teacher's logit cache lives, and why there."""
    if path in _ANNOUNCED:
        return
    _ANNOUNCED.add(path)
    from solver import log

    log.info(log.TEACHER_CACHE, f"Teacher logit cache: {path} ({why})")


class ONNXTeacher(Layer):
    """Python layer: top = the teacher's logits for the bottom's samples (no backward)."""

    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        from caffe_compat.layer_types.distillation import parse_param_str

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
        try:
            self.logit_scale = np.float32(params.get("logit_scale", 1.0))
        except (TypeError, ValueError):
            raise self.error(f"logit_scale must be a number, got {params['logit_scale']!r}")
        if not (np.isfinite(self.logit_scale) and self.logit_scale > 0):
            raise self.error(f"logit_scale must be a positive number, got {params['logit_scale']!r}")
        cache = None
        if params.get("cache", True):
            path = params.get("cache_file")
            if path is None and params.get("data"):
                path = cache_path_for(params["data"], ensemble)
                _, why = cache_folder_for(params["data"])
                _announce_cache(path, why)
            cache = open_cache(path)
        self.teacher = CachedTeacher(ensemble, cache)

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape[0], self.num_classes)

    def allow_force_backward(self, bottom_index):
        return False

    def forward(self, bottom, top):
        logits = self.teacher.logits(bottom[0].data)
        if self.logit_scale != 1:
            logits = logits * self.logit_scale
        top[0].data[...] = logits

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
