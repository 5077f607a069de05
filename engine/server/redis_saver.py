"""Writing changed calls to Redis in the background, so that no turn ever waits for it.

A session marks its call changed (:meth:`Saver.mark`); one task per process takes every call
marked since its last write and writes them all in one pipelined round trip, each call's newest
state only (the ``SAVE`` script of :mod:`engine.server.redis_scripts`). Each write carries the
call's epoch and a new sequence number, so Redis refuses what is older than what it holds; the
turns go as the new ones only, or all of them when Redis's list is not the one expected (it
restarted empty, say). A failed write is retried with growing pauses (0.1 s, doubling, up to
5 s) for as long as the call is held here, and for a while after (:data:`FORGOTTEN_KEPT`) for a
call that ended while Redis was away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from redis.exceptions import NoScriptError

from .codec import encode_state, encode_turn
from .redis_link import FAILURES, RedisLink, ms
from .redis_scripts import EXPIRING, call_key, turns_key
from .store import CallState

log = structlog.get_logger("dialplan.store")

LIVE_TTL = 3 * 3600.0
"""Seconds a live call's keys outlive its last save: above the platform's longest call (2 h)."""
KEPT_AFTER_GRACE = 60.0
"""Seconds a call's keys outlive its grace period, for the process that records it."""
BACKOFF_MAX = 5.0
FORGOTTEN_KEPT = 600.0
"""Seconds an unsaved call that ended here is still offered to Redis, before it is dropped."""


class Saver:
    """The calls of one process waiting to be written, and the task that writes them."""

    def __init__(self, link: RedisLink, grace: float, lost: Callable[[CallState], None]):
        self.link = link
        self.grace = grace
        self.lost = lost
        """Told of a call whose write Redis refused: another socket owns it now."""
        self.dirty: dict[str, CallState] = {}
        self.forgotten: dict[str, float] = {}  # call id -> when it ended here, unsaved
        self._wake = asyncio.Event()
        self._saved = asyncio.Event()
        self._saved.set()

    def mark(self, state: CallState) -> None:
        """The call changed: write it soon (a later mark of it before then costs nothing)."""
        self.dirty[state.call.call_id] = state
        self._saved.clear()
        self._wake.set()

    def forget(self, state: CallState) -> None:
        """The call ended here while its last state was unwritten: keep offering it a while."""
        self.forgotten[state.call.call_id] = time.monotonic()
        self.mark(state)

    def drop(self, call_id: str) -> None:
        """Write nothing more of the call."""
        self.dirty.pop(call_id, None)
        self.forgotten.pop(call_id, None)

    async def flush(self) -> None:
        """Wait until every call marked so far is written (bound it with ``asyncio.timeout``)."""
        await self._saved.wait()

    async def run(self) -> None:
        """Write marked calls until cancelled."""
        backoff = 0.0
        while True:
            if not self.dirty:
                self._saved.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = list(self.dirty.values())
            self.dirty.clear()
            try:
                async with asyncio.timeout(self.link.timeout):
                    again = await self._write(batch)
            except FAILURES as exc:
                self.link.failed("save", exc, unsaved=len(batch))
                for state in batch:  # a newer mark of the same call keeps its place
                    self.dirty.setdefault(state.call.call_id, state)
                self._drop_forgotten()
                backoff = min(max(backoff * 2, 0.1), BACKOFF_MAX)
                await asyncio.sleep(backoff)
                continue
            self.link.answered()
            backoff = 0.0
            for state in again:
                self.dirty.setdefault(state.call.call_id, state)

    async def _write(self, batch: list[CallState]) -> list[CallState]:
        """Write ``batch`` in one round trip; returns the calls to write again (whole)."""
        link = self.link
        pipe = link.redis.pipeline(transaction=False)
        sent = []
        written = []
        for state in batch:
            sync = state.sync
            assert sync is not None
            whole = not sync.leased or sync.saved_turns < 0
            new = state.turns if whole else state.turns[sync.saved_turns :]
            call_id = state.call.call_id
            try:
                blob, turn_blobs = encode_state(state), [encode_turn(turn) for turn in new]
            except Exception as exc:  # one call's odd data must not stop the others' saves
                log.error("store.call_unsaveable", call_id=call_id, error=repr(exc))
                continue
            sync.seq += 1
            written.append(state)
            sent.append((len(state.turns), sync.released))
            keys = [call_key(call_id), turns_key(call_id), EXPIRING]
            args = [
                call_id,
                link.instance,
                sync.epoch if sync.leased else 0,
                sync.seq,
                blob,
                ms(LIVE_TTL),
                1 if sync.released else 0,
                ms(self.grace),
                ms(self.grace + KEPT_AFTER_GRACE),
                max(sync.saved_turns, 0),
                1 if whole else 0,
                *turn_blobs,
            ]
            pipe.evalsha(link.sha("save"), len(keys), *keys, *args)
        results = await pipe.execute(raise_on_error=False)
        if any(isinstance(result, NoScriptError) for result in results):
            await link.load_scripts()  # Redis restarted and forgot its scripts
            return batch
        again = []
        for state, (count, released), result in zip(written, sent, results, strict=True):
            if isinstance(result, Exception):
                raise result
            sync = state.sync
            assert sync is not None
            if result == -1:
                self.lost(state)
            elif result == -2:
                sync.saved_turns = -1  # Redis's turns are not the ones expected: send all
                again.append(state)
            else:
                if result > 0:
                    sync.epoch, sync.leased = int(result), True
                sync.saved_turns = count
                sync.release_saved = released and sync.released
                self.forgotten.pop(state.call.call_id, None)
        return again

    def _drop_forgotten(self) -> None:
        """Calls that ended here while Redis was out are offered for a while, then dropped."""
        now = time.monotonic()
        for call_id, since in list(self.forgotten.items()):
            if now - since > FORGOTTEN_KEPT:
                del self.forgotten[call_id]
                if self.dirty.pop(call_id, None) is not None:
                    log.warning("store.save_dropped", call_id=call_id)
