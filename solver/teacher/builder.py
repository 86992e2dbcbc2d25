"""One builder for "a cached teacher from these params", used by every caller: the Caffe
layer, the distill probe, ``tscaffe label`` and its Dask workers.

``params`` is the layer's param_str mapping (prototxt.teacher_param). The cache: none when
``cache`` is false; the file ``cache_file`` when given (nothing hashed); else a file placed
for ``data`` (solver.teacher.placement: the dataset is hashed, once per process); else in
memory only.
"""
from .cache import CachedTeacher, LogitCache, open_cache
from .ensemble import build_ensemble
from .placement import place_cache

_ANNOUNCED = set()


def announce_cache(path, why):
    """Say once per process where a teacher's logit cache lives, and why there."""
    if path in _ANNOUNCED:
        return
    _ANNOUNCED.add(path)
    from solver import log

    log.info(log.TEACHER_CACHE, f"Teacher logit cache: {path} ({why})")


def cache_file_of(params, ensemble, announce=True):
    """(path or None, why) of the cache file the params ask for (see the module docstring)."""
    if not params.get("cache", True):
        return None, "cache off"
    if params.get("cache_file"):
        return params["cache_file"], "given"
    if params.get("data"):
        path, why = place_cache(params["data"], ensemble)
        if announce:
            announce_cache(path, why)
        return path, why
    return None, "in memory"


def cached_teacher(params, sample_shape=None, ensemble=None, announce=True):
    """A CachedTeacher for ``params``: its ensemble (``ensemble`` if one is given), checked
    against data of ``sample_shape`` when given (``num_classes``: the teachers' output
    width), behind the cache the params ask for (``cache_path``, ``cache_why``)."""
    ensemble = ensemble if ensemble is not None else build_ensemble(params)
    width = ensemble.check_input(sample_shape) if sample_shape is not None else None
    path, why = cache_file_of(params, ensemble, announce)
    if not params.get("cache", True):
        cache = None
    elif path is None:
        cache = LogitCache(None)
    else:
        cache = open_cache(path, ensemble.key)
    teacher = CachedTeacher(ensemble, cache, width)
    teacher.cache_path, teacher.cache_why = path, why
    return teacher
