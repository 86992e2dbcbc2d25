"""The user's ``--teacher-params`` checked before anything runs, in the user's words.

``check_user_params(value, flag)`` takes the flag's JSON text (or the mapping already
parsed) and returns the mapping (``check_teacher_params``: one for every teacher, or one
per teacher), or raises a CaffeError naming the flag and the key: an
unknown key (with the closest known one), a key another flag sets, a value of the wrong
kind. The transform's own checks (solver.teacher.transform) judge the values, so the flag
and the layer never disagree on what is valid.
"""
import difflib
import inspect
import json

from caffe_compat.errors import CaffeError
from prototxt.teacher_param import MODEL_KEYS

from .errors import TeacherError
from .model import OUTPUT_KINDS
from .transform import InputTransform

# Keys a user may give in --teacher-params (the teacher's path comes from --teacher).
USER_KEYS = tuple(k for k in MODEL_KEYS if k != "onnx")
# The transform's own keys: InputTransform's keyword arguments after (path, input_shape).
TRANSFORM_KEYS = tuple(inspect.signature(InputTransform).parameters)[2:]
# Keys set by a flag of their own.
FLAG_KEYS = {"onnx": "--teacher", "logit_scale": "--logit-scale", "blend": "--blend",
             "teachers": "--teacher (repeated)", "num_classes": "the data",
             "cache": None, "data": "--data", "cache_file": None}


def check_user_params(value, flag="--teacher-params"):
    """The mapping of ``value`` (JSON text or a dict), checked; a CaffeError otherwise."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise CaffeError(f"{flag} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise CaffeError(f"{flag} must be a JSON object ({{\"key\": value, ...}}), got "
                         f"{type(value).__name__} {value!r}")
    for key in value:
        if key in FLAG_KEYS:
            by = FLAG_KEYS[key]
            raise CaffeError(f"{flag}: key '{key}' is not a teacher transform"
                             + (f"; it is set by {by}" if by else "; tscaffe distill sets it"))
        if key not in USER_KEYS:
            close = difflib.get_close_matches(key, USER_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise CaffeError(f"{flag}: unknown key '{key}'{hint}; known keys: "
                             f"{', '.join(USER_KEYS)}")
    for key in ("input", "output"):
        if key in value and not (isinstance(value[key], str) and value[key]):
            raise CaffeError(f"{flag}: '{key}' must be a graph {key} name (a string), got "
                             f"{value[key]!r}")
    if "outputs" in value and value["outputs"] not in OUTPUT_KINDS:
        raise CaffeError(f"{flag}: 'outputs' must be one of {', '.join(OUTPUT_KINDS)}, got "
                         f"{value['outputs']!r}")
    if "threads" in value and not (isinstance(value["threads"], int)
                                   and not isinstance(value["threads"], bool)
                                   and value["threads"] >= 1):
        raise CaffeError(f"{flag}: 'threads' must be a positive integer, got "
                         f"{value['threads']!r}")
    if "feeds" in value and not (isinstance(value["feeds"], dict) and all(
            isinstance(v, (int, float, list)) for v in value["feeds"].values())):
        raise CaffeError(f"{flag}: 'feeds' must be an object of input name: number (or list "
                         f"of numbers), got {value['feeds']!r}")
    for key in ("unscale", "scale"):
        if key in value and not isinstance(value[key], (int, float, list)):
            raise CaffeError(f"{flag}: '{key}' must be a number or a list of numbers, got "
                             f"{value[key]!r}")
    transform = {k: v for k, v in value.items() if k in TRANSFORM_KEYS}
    try:
        InputTransform(flag, (), **transform)
    except (TeacherError, TypeError, ValueError) as e:
        text = str(e)
        prefix = f"teacher {flag}: "
        text = text[len(prefix):] if text.startswith(prefix) else text
        raise CaffeError(f"{flag}: {text}") from None
    return value


def check_teacher_params(values, teachers, flag="--teacher-params"):
    """The teachers' transforms from ``values``: None, one value (JSON text or a mapping)
    for every teacher, or a list of them, one per teacher in the --teacher order. Returns
    None, a mapping (one for all) or a list of mappings (one per teacher), each checked by
    ``check_user_params`` and named by its position when there are several."""
    if values is None or isinstance(values, (str, dict)):
        return check_user_params(values, flag)
    values = list(values)
    if len(values) == 1:
        return check_user_params(values[0], flag)
    if len(values) != teachers:
        raise CaffeError(f"{flag} given {len(values)} times for {teachers} --teacher "
                         f"model{'s' if teachers != 1 else ''}: give it once (for every "
                         f"teacher) or once per teacher, in the --teacher order")
    return [check_user_params(v, f"{flag} #{i + 1}") or {} for i, v in enumerate(values)]


def per_teacher(params, teachers):
    """``check_teacher_params``' answer as one mapping per teacher: a list as it is, one
    mapping (or None) repeated for every teacher."""
    if isinstance(params, list):
        return params
    return [params or {}] * teachers
