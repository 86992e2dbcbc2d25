"""ONNX teachers for Caffe students, one concept per module:

==============  ===========================================================================
transform       the student's data blob -> the teacher's input (unscale, mean, scale/std,
                channel order, resize, crop, layout)
model           one ONNX model in an onnxruntime session (``OnnxModel``)
ensemble        several teachers as one (``TeacherEnsemble``, ``build_ensemble``)
hashing         model and dataset hashes (a dataset is hashed once per process)
placement       where a logit cache file lives (next to the data, or the user's cache
                directory through platformdirs)
cache           the logit cache (``LogitCache``) and a teacher behind it (``CachedTeacher``)
builder         ``cached_teacher(params, ...)``: the one way to set a teacher up
layer           ``ONNXTeacher``, the Caffe Python layer
profile         what a teacher shows on data, and the distillation defaults derived from it
probe           ``probe_teacher``: the teacher on a training sample, returning a plan
labelling       ``tscaffe label``: the cache filled in this process or on Dask
==============  ===========================================================================

The param_str keys: ``prototxt.teacher_param``. A prototxt names the layer as
``python_param { module: "solver.teacher" layer: "ONNXTeacher" }``, so it is exported here.
"""
from .builder import cached_teacher
from .cache import CachedTeacher, LogitCache, forget_open_caches, open_cache, sample_keys
from .ensemble import TeacherEnsemble, build_ensemble
from .errors import TeacherError
from .hashing import dataset_sha256, file_sha256
from .layer import ONNXTeacher
from .model import OnnxModel
from .placement import cache_folder_for, cache_path_for, user_cache_root
from .transform import InputTransform, resize_bilinear

__all__ = ["cached_teacher", "CachedTeacher", "LogitCache", "forget_open_caches", "open_cache",
           "sample_keys", "TeacherEnsemble", "build_ensemble", "TeacherError",
           "dataset_sha256", "file_sha256", "ONNXTeacher", "OnnxModel", "cache_folder_for",
           "cache_path_for", "user_cache_root", "InputTransform", "resize_bilinear"]
