"""Pauses of the event loop, found and explained: every call waits while the loop does.

A server holding a thousand calls can answer late with its core far from full: one long step of
the loop (a burst of work, a pass of the cycle collector over the whole heap, another thread
holding the interpreter) delays every ping and every piece of speech queued behind it. A probe
scheduled every :data:`PROBE_S` seconds measures how late the loop ran it; a pause longer than
``DIALPLAN_STALL_MS`` is logged (``loop.stalled``) with what filled it:

* ``cpu_ms``: the loop's own thread was running (work in the loop);
* ``threads_ms``: other threads of the process ran (the call log's writer, say);
* ``gc_ms`` / ``gc_passes`` / ``gc_oldest``: the cycle collector's passes within it;
* the rest (``lag_ms`` minus these) the process waited for a core: other work on the machine.

Off unless ``DIALPLAN_STALL_MS`` is set (a timer every 50 ms and a hook on the collector).
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("dialplan.stalls")

PROBE_S = 0.05
"""How often the probe runs: a pause shorter than this is not seen whole."""


@dataclass
class Collector:
    """The cycle collector's passes since :meth:`take` last read them."""

    passes: int = 0
    seconds: float = 0.0
    """CPU time of the passes (not wall time: a pass the process waited through is not
    longer for it)."""
    oldest: int = -1
    """The oldest generation a pass went through (2: a full pass), -1 for none."""
    total_passes: int = 0
    total_seconds: float = 0.0
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        """A ``gc.callbacks`` hook: a pass starts or stops."""
        if phase == "start":
            self._started = time.thread_time()
            return
        took = time.thread_time() - self._started
        self.passes += 1
        self.seconds += took
        self.oldest = max(self.oldest, int(info.get("generation", 0)))
        self.total_passes += 1
        self.total_seconds += took

    def take(self) -> tuple[int, float, int]:
        """Passes, CPU seconds and oldest generation since the last take."""
        taken = self.passes, self.seconds, self.oldest
        self.passes, self.seconds, self.oldest = 0, 0.0, -1
        return taken


@dataclass
class StallWatch:
    """Logs each pause of the loop longer than ``threshold_s``, with what filled it."""

    threshold_s: float
    collector: Collector = field(default_factory=Collector)
    stalls: int = 0
    worst_s: float = 0.0
    _handle: asyncio.TimerHandle | None = None
    _due: float = 0.0
    _cpu: float = 0.0
    _process: float = 0.0

    def start(self) -> None:
        """Begin probing on the running loop."""
        gc.callbacks.append(self.collector)
        self._schedule(asyncio.get_running_loop())

    def stop(self) -> None:
        """Stop probing; logs how many pauses were seen."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.collector in gc.callbacks:
            gc.callbacks.remove(self.collector)
        log.info(
            "loop.stall_summary",
            stalls=self.stalls,
            worst_ms=round(self.worst_s * 1000, 1),
            gc_passes=self.collector.total_passes,
            gc_ms=round(self.collector.total_seconds * 1000, 1),
        )

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = loop.time() + PROBE_S
        self._cpu = time.thread_time()
        self._process = time.process_time()
        self._handle = loop.call_at(self._due, self._probe, loop)

    def _probe(self, loop: asyncio.AbstractEventLoop) -> None:
        lag = loop.time() - self._due
        passes, gc_seconds, oldest = self.collector.take()
        if lag > self.threshold_s:
            cpu = time.thread_time() - self._cpu
            threads = time.process_time() - self._process - cpu
            self.stalls += 1
            self.worst_s = max(self.worst_s, lag)
            log.warning(
                "loop.stalled",
                lag_ms=round(lag * 1000, 1),
                cpu_ms=round(cpu * 1000, 1),
                threads_ms=round(threads * 1000, 1),
                gc_ms=round(gc_seconds * 1000, 1),
                gc_passes=passes,
                gc_oldest=oldest,
            )
        self._schedule(loop)
