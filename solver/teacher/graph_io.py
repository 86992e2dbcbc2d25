"""What a teacher graph's inputs take and its outputs give, beyond one float32 image in and
one scores tensor out (solver.teacher.model.OnnxModel uses these):

- the image input's type: the transformed float32 batch is cast to it (``cast_input``),
  integer inputs (TensorFlow / TFLite uint8 pixels) taking whole values in range only;
- other inputs (a TensorFlow export's keep_prob or is_training): constant values from the
  user's ``feeds`` (``constant_feeds``);
- outputs: integer ones are predicted labels, never scores (``SCORE_TYPES``); skl2onnx's
  ZipMap gives one {class: probability} map per sample (``is_zipmap``, ``zipmap_rows``).
"""
import difflib

import numpy as np

from .errors import TeacherError

# onnxruntime's input type names -> the numpy dtype the transformed batch is cast to.
INPUT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
                "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
                "tensor(int8)": np.int8, "tensor(uint16)": np.uint16,
                "tensor(int16)": np.int16, "tensor(int32)": np.int32,
                "tensor(int64)": np.int64}


def input_dtype(path, name, onnx_type):
    """The numpy dtype of a teacher input of onnxruntime type ``onnx_type``; a clear error
    for one that cannot hold an image (strings, booleans)."""
    if onnx_type not in INPUT_DTYPES:
        raise TeacherError(f"teacher {path}: input '{name}' is of type {onnx_type}; a teacher "
                           f"must take numbers (float, double, float16 or integer pixels)")
    return np.dtype(INPUT_DTYPES[onnx_type])


def cast_input(batch, dtype, path, name):
    """The transformed ``batch`` (float32) as the graph's input ``dtype``. Integer inputs
    (uint8 pixels, as TensorFlow and TFLite image models take them) need whole values in
    the type's range: anything else is a transform that does not fit the model, refused
    rather than rounded."""
    if dtype == batch.dtype:
        return batch
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        whole = np.all(batch == np.rint(batch))
        inside = batch.size == 0 or (batch.min() >= info.min and batch.max() <= info.max)
        if not (whole and inside):
            raise TeacherError(
                f"teacher {path} takes input '{name}' as {dtype.name} pixels, but the "
                f"teacher's transform gives values in [{batch.min():g}, {batch.max():g}]"
                f"{'' if whole else ', not whole numbers'}; give it the raw pixels (no "
                f"scale or mean in --teacher-params)")
    return batch.astype(dtype)


# Output types that can hold scores (logits or probabilities).
SCORE_TYPES = ("tensor(float)", "tensor(double)", "tensor(float16)")


def is_zipmap(meta):
    """An output of skl2onnx's ZipMap: one {class: probability} map per sample."""
    return meta.type.startswith("seq(map(") and meta.type.endswith("tensor(float)))")


def zipmap_rows(maps):
    """ZipMap's list of {class: probability} maps as an (N, classes) array, the classes in
    their sorted order (skl2onnx's classes_ order)."""
    if not maps:
        return np.zeros((0, 0), np.float32)
    keys = sorted(maps[0])
    return np.array([[m[k] for k in keys] for m in maps], dtype=np.float32)


def constant_feeds(path, image_input, inputs, feeds):
    """{name: array} for the graph's inputs other than ``image_input``, from the user's
    ``feeds`` ({name: value}), each cast to its input's type and shape. A graph input left
    without a value, or a value for no input, is a clear error."""
    feeds = dict(feeds or {})
    others = [i for i in inputs if i.name != image_input]
    names = [i.name for i in others]
    for name in sorted(set(feeds) - set(names)):
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise TeacherError(f"teacher {path}: feeds names '{name}'{hint}, not among its other "
                           f"inputs ({', '.join(names) or 'none'})")
    missing = [i for i in others if i.name not in feeds]
    if missing:
        listing = ", ".join(f"{i.name} {dims_text(i.shape)} {i.type}" for i in missing)
        example = ", ".join(f'"{i.name}": VALUE' for i in missing)
        raise TeacherError(f"teacher {path} has other inputs besides its image input "
                           f"'{image_input}': {listing}; give their values with "
                           f"--teacher-params '{{\"feeds\": {{{example}}}}}' (e.g. a "
                           f"keep_prob of 1.0, an is_training of 0)")
    out = {}
    for meta in others:
        value = np.asarray(feeds[meta.name], dtype=input_dtype(path, meta.name, meta.type))
        shape = [d if isinstance(d, int) else 1 for d in meta.shape]
        if value.size == 1:
            value = np.full(shape, value.reshape(()), value.dtype)
        if list(value.shape) != shape:
            raise TeacherError(f"teacher {path}: feeds '{meta.name}' has shape "
                               f"{list(value.shape)}, the input wants {dims_text(meta.shape)}")
        out[meta.name] = value
    return out


def dims_text(shape):
    """A graph shape as text: [N, 1, 28, 28] (named or free dimensions: N first, ? after)."""
    dims = [str(d) if isinstance(d, int) else "N" if i == 0 else "?" for i, d in enumerate(shape)]
    return "[" + ", ".join(dims) + "]"
