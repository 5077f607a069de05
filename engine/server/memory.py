"""Handing memory back to the system once the calls it held have ended.

A burst of calls allocates per-call objects, buffers and frames; when they end, CPython keeps
the freed memory in its allocator (and glibc's) for reuse, so the process stays at its
high-water mark. When the server has no call left it runs a full collection and asks glibc to
return its free pages (``malloc_trim``): the next burst allocates again, the idle server stays
small. (The effect is measured in ``bench/README.md``.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

import structlog

log = structlog.get_logger("dialplan.memory")


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to ask
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release() -> None:
    """Collect garbage and return free allocator pages to the system (call when idle)."""
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)
    log.debug("memory.released")
