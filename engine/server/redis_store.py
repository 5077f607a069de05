"""The shared call store: calls in Redis, so they go on on any worker or host.

Set ``DIALPLAN_STORE=redis://host:port/db``. Every process keeps the calls it serves in memory,
as the memory store does, and Redis holds what each call needs to go on anywhere
(:mod:`engine.server.codec`); the scripts that change it are in
:mod:`engine.server.redis_scripts`.

* **Opening a call** takes it (one script): a new epoch, this process as its owner (the lease),
  and a message on ``dialplan:taken`` that makes an older socket of the call, in whatever
  process, stop speaking and close with 4000. A call Redis knows comes back whole: its
  conversation is rebuilt from its snapshot, on its flow version where this process has it.
* **Saving** never delays a turn (:mod:`engine.server.redis_saver`): calls are marked changed
  and written in the background, in one round trip, fenced by epoch and sequence so that a
  process that lost its call can never overwrite it.
* **When Redis is slow or down** calls go on from memory: an open that fails within
  ``DIALPLAN_STORE_TIMEOUT`` serves the call from what this process knows, writes are retried,
  ``/readyz`` says the store is degraded, and once Redis answers again every unsaved call is
  written (whole, if Redis lost what it had).
* **The end of a call**: when its socket closes the call waits in ``dialplan:expiring`` for
  its grace period; then exactly one process claims it, writes its record and deletes it. Each
  process beats every second; the calls of a process that stopped beating (killed, its host
  gone) wait out their grace period the same way, so their records are written too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from redis.exceptions import NoScriptError

from . import memory
from .codec import DecodeError, decode_state
from .redis_link import FAILURES, RedisLink, StoreError, check_url, ms, redacted
from .redis_saver import KEPT_AFTER_GRACE, LIVE_TTL, Saver
from .redis_scripts import EXPIRING, INSTANCES, TAKEN, call_key, turns_key
from .store import CallState, Expired, Revive, Sync

__all__ = ["RedisCallStore", "StoreError", "check_url", "redacted"]

log = structlog.get_logger("dialplan.store")

HOUSEKEEPING_EVERY = 1.0
"""Seconds between a process's heartbeats (and its look at calls whose grace is over)."""
DEAD_AFTER = 10.0
"""Seconds without a heartbeat after which a process counts as gone, and its calls end."""
CLAIM_AT_ONCE = 20
BACKOFF_MAX = 5.0


class RedisCallStore:
    """Calls kept in Redis and in this process; see the module docstring."""

    shared = True

    def __init__(
        self,
        url: str,
        grace: float,
        timeout: float = 1.0,
        on_expire: Expired | None = None,
        instance: str | None = None,
    ) -> None:
        self.link = RedisLink(url, timeout, instance)
        self.grace = grace
        self.on_expire = on_expire
        self.saver = Saver(self.link, grace, self._lost)
        self._revive: Revive | None = None
        self._local: dict[str, CallState] = {}
        self._idle_release = memory.IdleRelease(lambda: not self._local)
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        """Set by :meth:`stop`: the background loops end. Not cancellation alone: a cancel that
        lands inside the Redis client's own reads can be swallowed there."""

    # -- life cycle --------------------------------------------------------------------------

    async def start(self, revive: Revive) -> None:
        """Start saving, listening for take-overs and housekeeping; Redis may still be down."""
        self._revive = revive
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.saver.run(), name="store:save"),
            loop.create_task(self._listen(), name="store:listen"),
            loop.create_task(self._housekeeping(), name="store:housekeeping"),
        ]
        log.info("store.started", url=redacted(self.link.url), instance=self.link.instance)

    async def stop(self) -> None:
        """Write what is unsaved (bounded), hand calls still owned to expiry, disconnect.

        Calls that could not be written are ended here (their records written from memory):
        nothing else will know of them.
        """
        try:
            async with asyncio.timeout(max(2 * self.link.timeout, 1.0)):
                await self.saver.flush()
                args = [self.link.instance, ms(self.grace), ms(self.grace + KEPT_AFTER_GRACE)]
                await self.link.run("retire", [INSTANCES, EXPIRING], args)
        except FAILURES as exc:
            self.link.failed("stop", exc)
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for state in self.saver.dirty.values():
            if self.on_expire is not None:
                self.on_expire(state)
        await self.link.close()

    # -- taking a call -----------------------------------------------------------------------

    async def open(self, call_id: str, create: Callable[[], CallState]) -> tuple[CallState, bool]:
        """Take the call for this process: from Redis if it knows it, else new."""
        timer = self._expiry.pop(call_id, None)
        if timer is not None:
            timer.cancel()
        local = self._local.get(call_id)
        try:
            async with asyncio.timeout(self.link.timeout):
                epoch, _, blob, turns = await self.link.run(
                    "open",
                    [call_key(call_id), turns_key(call_id), EXPIRING],
                    [call_id, self.link.instance, ms(LIVE_TTL)],
                )
        except FAILURES as exc:
            self.link.failed("open", exc)
            if local is not None:
                assert local.sync is not None
                local.sync.leased = local.sync.released = False  # taken once Redis answers
                return local, True
            state = create()
            state.sync = Sync()
            self._local[call_id] = state
            return state, False
        self.link.answered()
        epoch = int(epoch)
        if local is not None:
            sync = local.sync
            assert sync is not None
            if not sync.leased or epoch == sync.epoch + 1:
                # Nobody else served the call since this process did: its memory is current.
                if not sync.leased:
                    sync.saved_turns = -1  # what Redis holds is not this: replace it
                sync.epoch, sync.leased = epoch, True
                sync.released = sync.release_saved = False
                return local, True
            local.conversation.close()  # another process served it since: Redis is newer
        revived = self._revived(call_id, blob, turns) if blob else None
        state = revived if revived is not None else create()
        state.sync = Sync(epoch=epoch, saved_turns=len(turns) if revived else 0, leased=True)
        if revived is None and turns:
            state.sync.saved_turns = -1  # leftovers of an unreadable state: replace them
        self._local[call_id] = state
        return state, revived is not None

    def _revived(self, call_id: str, blob: bytes, turns: Sequence[bytes]) -> CallState | None:
        """The call as Redis holds it; ``None`` if it cannot be read (it starts afresh)."""
        revive = self._revive
        assert revive is not None  # set by start()

        def tolerant(call: Any, snapshot: Any) -> Any:
            try:
                return revive(call, snapshot)
            except Exception as exc:  # a snapshot this process cannot use: start afresh
                log.error("store.snapshot_unusable", call_id=call_id, error=str(exc))
                return revive(call, None)

        try:
            return decode_state(blob, turns, tolerant)
        except DecodeError as exc:
            log.error("store.state_unreadable", call_id=call_id, error=str(exc))
            return None

    # -- changes and the end of a socket -----------------------------------------------------

    def save(self, state: CallState) -> None:
        """Mark the call changed; it is written soon, without anyone waiting."""
        if state.sync is not None and not state.sync.lost:
            self.saver.mark(state)

    def release(self, call_id: str, state: CallState) -> None:
        """The call's socket closed: written as released; forgotten here after the grace."""
        if self._local.get(call_id) is not state or state.sync is None or state.sync.lost:
            return
        state.sync.released = True
        self.saver.mark(state)
        loop = asyncio.get_running_loop()
        self._expiry[call_id] = loop.call_later(self.grace, self._forget, call_id, state)

    async def flush(self) -> None:
        """Wait until every change so far is written (bound it with ``asyncio.timeout``)."""
        await self.saver.flush()

    def _forget(self, call_id: str, state: CallState) -> None:
        """The grace period passed here: drop the call (its record is written by a claimer)."""
        self._expiry.pop(call_id, None)
        if self._local.get(call_id) is not state or state.owner is not None:
            return
        del self._local[call_id]
        assert state.sync is not None
        if not state.sync.release_saved:
            # Redis never learnt that the socket closed: the call is over as far as anyone
            # can know, so its record is written from here. The written count goes to Redis
            # with the call (once it answers), so no claimer writes the record again.
            if self.on_expire is not None:
                self.on_expire(state)
            self.saver.forget(state)
        state.conversation.close()
        if not self._local:
            self._idle_release.schedule()

    def _lost(self, state: CallState) -> None:
        """Another process serves the call now: stop speaking for it here, write nothing more."""
        call_id = state.call.call_id
        sync = state.sync
        if sync is None or sync.lost:
            return
        sync.lost = True
        self.saver.drop(call_id)
        timer = self._expiry.pop(call_id, None)
        if timer is not None:
            timer.cancel()
        if self._local.get(call_id) is state:
            del self._local[call_id]
        owner, state.owner = state.owner, None
        log.info("store.call_taken_elsewhere", call_id=call_id)
        if owner is not None:
            owner.take_over()
        state.conversation.close()

    # -- background work ---------------------------------------------------------------------

    async def _listen(self) -> None:
        """Follow ``dialplan:taken``: an older socket of a call taken elsewhere is closed."""
        backoff = 0.0
        while not self._stopping:
            pubsub = self.link.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(TAKEN)
                backoff = 0.0
                while not self._stopping:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._taken(message["data"])
            except FAILURES as exc:
                self.link.failed("listen", exc)
                backoff = min(max(backoff * 2, 0.1), BACKOFF_MAX)
                await asyncio.sleep(backoff)
            finally:
                # Older redis-py releases leave this one untyped.
                await asyncio.shield(_quietly(pubsub.aclose()))  # type: ignore[no-untyped-call,unused-ignore]

    def _taken(self, data: bytes) -> None:
        call_id, _, instance = data.decode().rpartition(" ")
        state = self._local.get(call_id)
        if state is not None and instance != self.link.instance:
            self._lost(state)

    async def _housekeeping(self) -> None:
        """Every second: a heartbeat, and the records of calls whose grace period is over."""
        while not self._stopping:
            try:
                async with asyncio.timeout(self.link.timeout):
                    moved, claimed = await self._beat()
            except FAILURES as exc:
                self.link.failed("housekeeping", exc)
            else:
                self.link.answered()
                if moved:
                    log.info("store.calls_of_stopped_processes", calls=moved)
                self._record_claimed(claimed)
            await asyncio.sleep(HOUSEKEEPING_EVERY)

    async def _beat(self) -> tuple[int, list[Any]]:
        link = self.link
        pipe = link.redis.pipeline(transaction=False)
        pipe.evalsha(
            link.sha("housekeeping"),
            2,
            INSTANCES,
            EXPIRING,
            link.instance,
            ms(DEAD_AFTER),
            ms(self.grace),
            ms(self.grace + KEPT_AFTER_GRACE),
        )
        pipe.evalsha(link.sha("claim"), 1, EXPIRING, CLAIM_AT_ONCE)
        try:
            moved, claimed = await pipe.execute()
        except NoScriptError:
            await link.load_scripts()  # Redis restarted and forgot its scripts
            return 0, []
        return int(moved), list(claimed)

    def _record_claimed(self, claimed: list[Any]) -> None:
        """Write the records of calls whose grace period ended (claimed by this process)."""
        for index in range(0, len(claimed), 3):
            call_id = claimed[index].decode()
            local = self._local.pop(call_id, None)
            timer = self._expiry.pop(call_id, None)
            if timer is not None:
                timer.cancel()
            state = local if local is not None and local.owner is None else None
            if state is None:
                state = self._revived(call_id, claimed[index + 1], claimed[index + 2])
            if state is None:
                continue
            log.info("call.expired", call_id=call_id)
            if self.on_expire is not None:
                self.on_expire(state)
            state.conversation.close()
        if claimed and not self._local:
            self._idle_release.schedule()

    # -- what this process holds -------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``/readyz``: the store, whether Redis answers, and how many calls wait to be saved."""
        return {
            "kind": "redis",
            "url": redacted(self.link.url),
            "state": "degraded" if self.link.problem else "ok",
            "problem": self.link.problem,
            "unsaved": len(self.saver.dirty),
        }

    def get(self, call_id: str) -> CallState | None:
        """See :meth:`~engine.server.store.CallStore.get`."""
        return self._local.get(call_id)

    def calls(self) -> list[CallState]:
        """See :meth:`~engine.server.store.CallStore.calls`."""
        return list(self._local.values())

    def __len__(self) -> int:
        return len(self._local)


async def _quietly(closing: Any) -> None:
    with contextlib.suppress(*FAILURES):
        await closing
