"""The thread count of the OpenBLAS that numpy loaded, read and set through ctypes.

numpy's wheels bundle OpenBLAS under a prefixed name (``scipy_openblas_set_num_threads64_``
in ``numpy.libs/libscipy_openblas64_*.so``); a distribution's numpy links the system
``libopenblas.so.0`` (``openblas_set_num_threads``). The library is found among the shared
objects this process has mapped (``/proc/self/maps``), so it is the very copy numpy calls,
and only after numpy is imported. Where none is found (another BLAS, not Linux) ``get`` and
``set`` return None and change nothing: the batch-split threads still adapt.

OpenBLAS's results can depend on its thread count: for some shapes the threaded driver blocks
the inner dimension differently (measured: numpy's 0.3.31, SkylakeX kernel, a 50x500 by
500x4096 product differs by up to 3e-5 between 1 and 2 threads; LeNet's conv2 shows it).
"""
import ctypes
import threading

# (set, get, config) symbol names: numpy's bundled copy first, then plain builds.
_SYMBOLS = [
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_", "scipy_openblas_get_corename64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads", "scipy_openblas_get_corename"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_", "openblas_get_corename64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads", "openblas_get_corename"),
]

_lock = threading.Lock()
_found = None  # None: not looked yet; False: none; else (set, get, corename, path)


def _mapped_libraries(maps_text):
    """Paths of the OpenBLAS shared objects named in /proc/self/maps text, in order."""
    seen = []
    for line in maps_text.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6:
            path = parts[5].strip()
            name = path.rsplit("/", 1)[-1].lower()
            if "openblas" in name and ".so" in name and path not in seen:
                seen.append(path)
    return seen


def _bind(path):
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for set_name, get_name, core_name in _SYMBOLS:
        if hasattr(lib, set_name) and hasattr(lib, get_name):
            setter, getter = getattr(lib, set_name), getattr(lib, get_name)
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            corename = getattr(lib, core_name, None)
            if corename is not None:
                corename.argtypes, corename.restype = [], ctypes.c_char_p
            return setter, getter, corename, path
    return None


def _library():
    global _found
    if _found is None:
        with _lock:
            if _found is None:
                try:
                    import numpy  # noqa: F401  (maps its BLAS)

                    with open("/proc/self/maps") as f:
                        paths = _mapped_libraries(f.read())
                except OSError:
                    paths = []
                _found = next((b for b in map(_bind, paths) if b), False)
    return _found or None


def get():
    """OpenBLAS's current thread count, or None without a known OpenBLAS."""
    lib = _library()
    return None if lib is None else int(lib[1]())


def set(n):  # noqa: A001  (the module's verb)
    """Sets OpenBLAS's thread count; returns False where there is no OpenBLAS to set."""
    lib = _library()
    if lib is None:
        return False
    lib[0](int(n))
    return True


def describe():
    """'path (kernel)' of the OpenBLAS in use, or None."""
    lib = _library()
    if lib is None:
        return None
    kernel = lib[2]().decode() if lib[2] is not None else "?"
    return f"{lib[3]} ({kernel})"
