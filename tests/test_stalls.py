"""The loop's pauses, as ``DIALPLAN_STALL_MS`` reports them: found, and told apart by cause."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

from structlog.testing import capture_logs

from engine.server.stalls import StallWatch


def _spin(seconds: float) -> None:
    """Keep this thread busy (not asleep: a pause of work, not of waiting)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_a_long_step_of_the_loop_is_logged_as_its_own_work():
    watch = StallWatch(0.1)
    with capture_logs() as logs:
        watch.start()
        await asyncio.sleep(0.12)  # quiet: nothing to report
        _spin(0.3)  # one step of the loop that every call would wait for
        await asyncio.sleep(0.12)
        watch.stop()
    stalled = [entry for entry in logs if entry["event"] == "loop.stalled"]
    assert len(stalled) == 1
    assert stalled[0]["lag_ms"] >= 200
    assert stalled[0]["cpu_ms"] >= 200  # the loop's own thread was running
    assert watch.stalls == 1
    assert watch.worst_s >= 0.2


async def test_a_pause_filled_by_another_thread_is_told_apart():
    watch = StallWatch(0.1)
    with capture_logs() as logs:
        watch.start()
        await asyncio.sleep(0.06)
        worker = threading.Thread(target=_spin, args=(0.3,))
        worker.start()
        worker.join()  # the loop blocks while another thread of the process works
        await asyncio.sleep(0.06)
        watch.stop()
    stalled = [entry for entry in logs if entry["event"] == "loop.stalled"]
    assert len(stalled) == 1
    assert stalled[0]["threads_ms"] >= 200
    assert stalled[0]["cpu_ms"] < 100


async def test_the_collectors_passes_in_a_pause_are_counted():
    watch = StallWatch(0.05)
    with capture_logs() as logs:
        watch.start()
        await asyncio.sleep(0.06)
        gc.collect()
        _spin(0.1)
        await asyncio.sleep(0.06)
        watch.stop()
    assert watch.collector not in gc.callbacks  # nothing left hooked after a stop
    stalled = [entry for entry in logs if entry["event"] == "loop.stalled"]
    assert stalled
    assert stalled[0]["gc_passes"] >= 1
    assert stalled[0]["gc_oldest"] == 2  # a full pass
