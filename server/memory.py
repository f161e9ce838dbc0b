"""Giving freed memory back to the system after large jobs.

glibc keeps freed heap memory in its arenas for reuse; after a 100 MP job the process can stay
gigabytes larger than it needs to be. `malloc_trim(0)` hands the free pages back. Elsewhere
(macOS, Windows, musl) this is a no-op: their allocators return large blocks themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable

LARGE_JOB_BYTES = 16 << 20  # trim after jobs whose input is at least this big

_trim: Callable[[int], int] | None = None
_looked_up = False


def _malloc_trim() -> Callable[[int], int] | None:
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _trim = libc.malloc_trim
                _trim.argtypes = [ctypes.c_size_t]
                _trim.restype = ctypes.c_int
            except (OSError, AttributeError):  # not glibc
                _trim = None
    return _trim


def release_free_memory() -> bool:
    """Return freed heap memory to the OS where the allocator keeps it; True if it could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def rss_bytes() -> int | None:
    """This process's resident memory now (Linux), for benchmarks and tests."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")
