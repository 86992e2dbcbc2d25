"""One ONNX teacher model in an onnxruntime session, behind its input transform (what its
graph's inputs take and outputs give beyond one float32 image and one scores tensor:
solver.teacher.graph_io)."""
import json
import os

import numpy as np

from caffe_compat.errors import fmt_shape

from .errors import TeacherError
from .fitting import describe, suggest
from .graph_io import (cast_input, constant_feeds, dims_text, input_dtype, is_zipmap,
                       SCORE_TYPES, zipmap_rows)
from .hashing import model_sha256, read_graph
from .transform import InputTransform

OUTPUT_KINDS = ("auto", "logits", "probabilities")
# log(p) of a probability output: p below this (float32 underflow) is floored, so a
# confident probability teacher still gives finite log-probabilities.
PROB_FLOOR = 1e-30
# Ops that only reshape: a Softmax behind them still makes the output probabilities.
_SHAPE_OPS = ("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast")


def graph_ends_in_softmax(model, output_name):
    """Whether ``output_name`` of ``model`` (hashing.read_graph's; None: unreadable) is made
    by a Softmax (through shape-only ops): probabilities."""
    if model is None:
        return False
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    name = output_name
    for _ in range(16):
        node = producer.get(name)
        if node is None:
            return False
        if node.op_type == "Softmax":
            return True
        if node.op_type not in _SHAPE_OPS:
            return False
        name = node.input[0]
    return False


# (model sha256, input name) of the graphs found to run one sample at a time in this
# process (OnnxModel._fall_back_to_one), so each later instance starts there.
_ONE_AT_A_TIME = set()


class OnnxModel:
    """One ONNX model in an onnxruntime session, with its own input transform
    (``self.transform``, see solver.teacher.transform)."""

    def __init__(self, onnx, input=None, output=None, threads=None, outputs="auto",
                 num_classes=None, feeds=None, **transform):
        import onnxruntime as ort

        if not onnx or not os.path.isfile(onnx):
            raise TeacherError(f"teacher model not found: {onnx!r}")
        self.path = onnx
        proto = read_graph(onnx)  # read once: the hash and the output kind look at it
        self.model_sha256 = model_sha256(onnx, proto)
        opts = ort.SessionOptions()
        opts.log_severity_level = 4   # its errors reach the user as TeacherErrors, once
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
        meta = next(i for i in inputs if i.name == self.input_name)
        self.input_shape = meta.shape
        self.input_dtype = input_dtype(onnx, self.input_name, meta.type)
        self.feeds = constant_feeds(onnx, self.input_name, inputs, feeds)
        batch_dim = self.input_shape[0] if self.input_shape else None
        self.fixed_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        if (self.model_sha256, self.input_name) in _ONE_AT_A_TIME:   # found by an earlier run
            self.fixed_batch = 1
        self.transform = InputTransform(onnx, self.input_shape, **transform)
        if outputs not in OUTPUT_KINDS:
            raise TeacherError(f"outputs must be one of {', '.join(OUTPUT_KINDS)}, got {outputs!r}")
        self.zipmap = is_zipmap(next(o for o in outputs_meta if o.name == self.output_name))
        if outputs == "auto":
            outputs = ("probabilities" if self.zipmap
                       or graph_ends_in_softmax(proto, self.output_name) else "logits")
        self.outputs = outputs
        self.runs = 0            # onnxruntime calls (tests and benchmarks count them)
        self.samples_run = 0
        self.transform_key = json.dumps(
            self.transform.key_parts() + [self.outputs, self.output_name]
            + ([{k: v.tolist() for k, v in self.feeds.items()}] if self.feeds else []),
            sort_keys=True)

    def _pick_output(self, outputs, num_classes):
        """The graph's output when none is named: the only one, or the only one whose last
        dimension is the class count; otherwise a clear error listing them."""
        if len(outputs) == 1:
            return outputs[0].name
        # Integer outputs are predicted labels (skl2onnx's "label"), never the logits.
        scores = [o for o in outputs if o.type in SCORE_TYPES or is_zipmap(o)]
        if len(scores) == 1:
            return scores[0].name
        listing = ", ".join(f"{o.name} {dims_text(o.shape)}" for o in outputs)
        if num_classes is not None:
            fits = [o for o in outputs if o.shape and o.shape[-1] == int(num_classes)]
            if len(fits) == 1:
                return fits[0].name
        raise TeacherError(f"teacher {self.path} has {len(outputs)} outputs ({listing}); name "
                           "the logits with --teacher-output NAME (param_str 'output')")

    def check_input(self, sample_shape):
        """Raise a clear error if transformed data of ``sample_shape`` cannot feed the model;
        else the model's outputs for one zero sample."""
        probe = self.transform(np.zeros((1,) + tuple(sample_shape), np.float32))
        want = self.input_shape
        got = probe.shape
        fixed = [d if isinstance(d, int) else None for d in want]
        if len(fixed) != len(got) or any(f is not None and f != g for f, g in zip(fixed[1:], got[1:])):
            c = self.transform.channels or sample_shape[0]
            h, w = self.transform.spatial_shape(*sample_shape[1:])
            fix = describe(suggest(want, c, h, w, self.transform.layout), h, w)
            raise TeacherError(
                f"teacher {self.path} expects input {self.input_name} of shape "
                f"{['N' if f is None else f for f in fixed]}, but the data gives "
                f"{list(got)} after the teacher's transform (data sample shape "
                f"{list(sample_shape)}){fix}")
        return self.run(probe)

    def _session_run(self, teacher_input):
        self.runs += 1
        try:
            fed = cast_input(teacher_input, self.input_dtype, self.path, self.input_name)
            out = self.session.run([self.output_name],
                                   {self.input_name: fed, **self.feeds})[0]
            if self.zipmap:
                out = zipmap_rows(out)
        except TeacherError:
            raise
        except Exception as e:
            raise TeacherError(f"teacher {self.path} failed on input of shape "
                               f"{fmt_shape(teacher_input.shape)}: {e}") from None
        return np.asarray(out, dtype=np.float32).reshape(teacher_input.shape[0], -1)

    def run(self, teacher_input):
        """The graph's outputs for a transformed batch, as logits (log of probabilities).
        A graph with a fixed batch dimension runs in chunks of it, the last one zero-padded."""
        n = teacher_input.shape[0]
        self.samples_run += n
        k = self.fixed_batch
        if k is None and n > 1:
            try:
                out = self._session_run(teacher_input)
            except TeacherError as batch_error:
                self._fall_back_to_one(teacher_input, batch_error)
                return self.run(teacher_input)
        elif k is None or k == n:
            out = self._session_run(teacher_input)
        else:
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

    def _fall_back_to_one(self, teacher_input, batch_error):
        """A graph whose batch dimension is declared free but is fixed inside (a PyTorch
        export's ``x.view(1, -1)``) fails on a batch and runs on one sample: from then on
        it runs one sample at a time, and the log says why. Failing on one sample too, the
        batch's error stands."""
        from solver import log

        try:
            self._session_run(teacher_input[:1])
        except TeacherError:
            raise batch_error from None
        self.samples_run -= teacher_input.shape[0]
        self.fixed_batch = 1
        _ONE_AT_A_TIME.add((self.model_sha256, self.input_name))
        log.info(log.TEACHER_CACHE, f"Teacher {self.path} fails on a batch of "
                 f"{teacher_input.shape[0]} but runs on one sample (a batch size fixed inside "
                 f"the graph): it runs one sample at a time")

    def logits(self, data, batch_size=None):
        """Logits for a student data blob; large inputs go through in batches."""
        n = data.shape[0]
        step = batch_size or n or 1
        parts = [self.run(self.transform(data[i:i + step])) for i in range(0, n, step)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
