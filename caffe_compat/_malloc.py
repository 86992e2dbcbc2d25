"""Keep freed memory in the process (glibc only), so big scratch arrays are not returned
to the OS and faulted back in every iteration.

numpy frees large temporaries (im2col columns, GEMM outputs) with glibc's ``free``; by
default blocks above the mmap threshold are unmapped and the heap top is trimmed, so the
next iteration page-faults the same memory back in (measured: about twice the LeNet
iteration time). Raising the mmap and trim thresholds at import avoids that. Set
``TSCAFFE_NO_MALLOPT=1`` to skip it (for comparisons). Elsewhere (musl, macOS, Windows)
this does nothing.
"""
import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1024 * 1024 * 1024

applied = False


def tune():
    """Raise glibc's thresholds once; returns True when they were set."""
    global applied
    if applied or os.environ.get("TSCAFFE_NO_MALLOPT") == "1" or not sys.platform.startswith("linux"):
        return applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return applied


tune()
