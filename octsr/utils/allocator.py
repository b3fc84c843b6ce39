"""Keep freed tensor memory inside the process instead of handing it back to the kernel.

glibc serves large allocations (a convolution's activations: tens of MB) with fresh `mmap`
calls and unmaps them on free, and trims the heap top as soon as 128 KB is free. A training
step allocates and frees the same buffers every step, so each step faults every page back
in: on a 2-core CPU that took a large share of the default run's CPU time in the kernel
(measured in experiments/speed). Raising both thresholds lets the allocator reuse
those pages. It is done with `mallopt` at import, so every entry point and every DataLoader
worker (forked or spawned: both import octsr) gets it without knowing about it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameter numbers from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Large enough for any single activation of the networks here; freed memory above it is
# still returned to the kernel, so a finished burst does not pin the peak forever.
THRESHOLD_BYTES = 1 << 30
# Anyone who tuned glibc through the environment keeps their setting.
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; True if they were set.

    A no-op (False) off Linux, on a C library without `mallopt` (musl, macOS), or when the
    user set glibc's malloc variables themselves, or OCTSR_KEEP_FREED_MEMORY=0 (to measure
    what it saves).
    """
    if os.environ.get("OCTSR_KEEP_FREED_MEMORY") == "0":
        return False
    if not sys.platform.startswith("linux") or any(k in os.environ for k in _USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES)) and \
        bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES))
