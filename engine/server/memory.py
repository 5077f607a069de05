"""Handing memory back to the system once the calls it held have ended.

A burst of calls allocates per-call objects, buffers and frames; when they end, CPython keeps
the freed memory in its allocator (and glibc's) for reuse, so the process stays at its
high-water mark. When the server has had no call for a moment it runs a full collection and
asks glibc to return its free pages (``malloc_trim``): the next burst allocates again, the idle
server stays small. (The effect is measured in ``bench/README.md``.)
"""

from __future__ import annotations

import asyncio
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

IDLE_DELAY = 1.0
"""Seconds without calls before :class:`IdleRelease` hands memory back."""


def release() -> None:
    """Collect garbage and return free allocator pages to the system (call when idle)."""
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)
    log.debug("memory.released")


class IdleRelease:
    """Runs :func:`release` once the server has stayed without calls for a moment.

    The moment is ``delay`` seconds (default :data:`IDLE_DELAY`), not none: the last calls'
    records are still being written by the call log's thread and their sockets' buffers are
    freed just after; pages handed back before that would only be taken again.
    """

    def __init__(self, idle: Callable[[], bool], delay: float | None = None) -> None:
        self._idle = idle
        self._delay = IDLE_DELAY if delay is None else delay
        self._timer: asyncio.TimerHandle | None = None

    def schedule(self) -> None:
        """The last call just ended (a later end moves the release later)."""
        if self._timer is not None:
            self._timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (the server has stopped): nothing to wait for
            self._run()
            return
        self._timer = loop.call_later(self._delay, self._run)

    def _run(self) -> None:
        self._timer = None
        if self._idle():  # a call that started meanwhile keeps the memory busy
            release()
