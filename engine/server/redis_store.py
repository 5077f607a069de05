"""The shared call store: calls in Redis, so they go on on any worker or host.

Set ``DIALPLAN_STORE=redis://host:port/db``. Every process keeps the calls it serves in memory,
as the memory store does, and Redis holds what each call needs to go on anywhere
(:mod:`engine.server.codec`); the scripts that change it are in
:mod:`engine.server.redis_scripts`.

* **Opening a call** takes it (one script): a new epoch, this process as its owner (the lease),
  and a message on ``dialplan:taken`` that makes an older socket of the call, in whatever
  process, stop speaking and close with 4000. A call Redis knows comes back whole: its
  conversation is rebuilt from its snapshot, on its flow version where this process has it.
* **Saving** never delays a turn: :meth:`RedisCallStore.save` only marks the call changed, and
  one task writes every changed call in a single pipelined round trip, newest state only.
  Each write carries the call's epoch and a sequence number, and Redis refuses any write older
  than what it holds: a process that lost its call can never overwrite it.
* **When Redis is slow or down** calls go on from memory: an open that fails in
  ``DIALPLAN_STORE_TIMEOUT`` serves the call from what this process knows, writes are retried
  (backing off up to a few seconds, for as long as the call lives here), ``/readyz`` says the
  store is degraded, and once Redis answers again every unsaved call is written (whole, if
  Redis lost what it had).
* **The end of a call**: when its socket closes the call waits in ``dialplan:expiring`` for
  its grace period; then exactly one process claims it, writes its record and deletes it. Each
  process beats every few seconds; the calls of a process that stopped beating (killed, its
  host gone) wait out their grace period the same way, so their records are written too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from engine.errors import DialplanError

from . import memory, redis_scripts
from .codec import DecodeError, decode_state, encode_state, encode_turn
from .redis_scripts import EXPIRING, INSTANCES, TAKEN, call_key, turns_key
from .store import CallState, Expired, Revive, Sync

log = structlog.get_logger("dialplan.store")

LIVE_TTL = 3 * 3600.0
"""Seconds a live call's keys outlive its last save: above the platform's longest call (2 h)."""
KEPT_AFTER_GRACE = 60.0
"""Seconds a call's keys outlive its grace period, for the process that records it."""
HOUSEKEEPING_EVERY = 1.0
"""Seconds between a process's heartbeats (and its look at calls whose grace is over)."""
DEAD_AFTER = 10.0
"""Seconds without a heartbeat after which a process counts as gone, and its calls end."""
CLAIM_AT_ONCE = 20
BACKOFF_MAX = 5.0
FORGOTTEN_KEPT = 600.0
"""Seconds an unsaved call that ended here is still offered to Redis, before it is dropped."""

_FAILURES = (RedisError, OSError, TimeoutError)


class StoreError(DialplanError):
    """A store URL that cannot be used."""


def check_url(url: str) -> None:
    """Raise :class:`StoreError` unless ``url`` is a Redis URL."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise StoreError(f"DIALPLAN_STORE: not a Redis URL: {redacted(url)} (redis://host:port/db)")


def redacted(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for logs and ``/readyz``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


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
        check_url(url)
        self.url = url
        self.grace = grace
        self.timeout = timeout
        self.on_expire = on_expire
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Bounded by `timeout`, and retried by the client only once, at once, on a connection
        # that broke (a pooled connection to a Redis that restarted since): the store retries
        # on its own schedule, and a call must not wait for a Redis that is not there.
        self.redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._scripts = {
            name: self.redis.register_script(text)
            for name, text in (
                ("open", redis_scripts.OPEN),
                ("save", redis_scripts.SAVE),
                ("claim", redis_scripts.CLAIM_EXPIRED),
                ("housekeeping", redis_scripts.HOUSEKEEPING),
                ("retire", redis_scripts.RETIRE),
            )
        }
        self._revive: Revive | None = None
        self._local: dict[str, CallState] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._dirty: dict[str, CallState] = {}
        self._forgotten: dict[str, float] = {}  # call id -> when it ended here unsaved
        self._wake = asyncio.Event()
        self._saved = asyncio.Event()
        self._saved.set()
        self._tasks: list[asyncio.Task[None]] = []
        self.problem: str | None = None
        """Why Redis cannot be used right now (``None``: it can)."""

    # -- life cycle --------------------------------------------------------------------------

    async def start(self, revive: Revive) -> None:
        """Start saving, listening for take-overs and housekeeping; Redis may still be down."""
        self._revive = revive
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._save_loop(), name="store:save"),
            loop.create_task(self._listen_loop(), name="store:listen"),
            loop.create_task(self._housekeeping_loop(), name="store:housekeeping"),
        ]
        log.info("store.started", url=redacted(self.url), instance=self.instance)

    async def stop(self) -> None:
        """Write what is unsaved (bounded), hand calls still owned to expiry, disconnect.

        Calls that could not be written are ended here (their records written from memory):
        nothing else will know of them.
        """
        try:
            async with asyncio.timeout(max(2 * self.timeout, 1.0)):
                await self.flush()
                await self._script("retire", [INSTANCES, EXPIRING], self._retire_args())
        except _FAILURES as exc:
            self._failed("stop", exc)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for state in self._dirty.values():
            if self.on_expire is not None:
                self.on_expire(state)
        await self.redis.aclose()

    def _retire_args(self) -> list[Any]:
        return [self.instance, _ms(self.grace), _ms(self.grace + KEPT_AFTER_GRACE)]

    # -- taking a call -----------------------------------------------------------------------

    async def open(self, call_id: str, create: Callable[[], CallState]) -> tuple[CallState, bool]:
        """Take the call for this process: from Redis if it knows it, else new."""
        timer = self._expiry.pop(call_id, None)
        if timer is not None:
            timer.cancel()
        local = self._local.get(call_id)
        try:
            async with asyncio.timeout(self.timeout):
                epoch, _, blob, turns = await self._script(
                    "open",
                    [call_key(call_id), turns_key(call_id), EXPIRING],
                    [call_id, self.instance, _ms(LIVE_TTL)],
                )
        except _FAILURES as exc:
            self._failed("open", exc)
            if local is not None:
                assert local.sync is not None
                local.sync.leased = local.sync.released = False  # taken once Redis answers
                return local, True
            state = create()
            state.sync = Sync()
            self._local[call_id] = state
            return state, False
        self._recovered()
        epoch = int(epoch)
        if local is not None:
            assert local.sync is not None
            if not local.sync.leased or epoch == local.sync.epoch + 1:
                # Nobody else served the call since this process did: its memory is current.
                if not local.sync.leased:
                    local.sync.saved_turns = -1  # what Redis holds is not this: replace it
                local.sync.epoch, local.sync.leased = epoch, True
                local.sync.released = local.sync.release_saved = False
                return local, True
            local.conversation.close()  # another process served it since: Redis is newer
        revived = self._revived(call_id, blob, turns) if blob else None
        resumed = revived is not None
        state = revived if revived is not None else create()
        state.sync = Sync(epoch=epoch, saved_turns=len(turns) if resumed else 0, leased=True)
        if not resumed and turns:
            state.sync.saved_turns = -1  # leftovers of an unreadable state: replace them
        self._local[call_id] = state
        return state, resumed

    def _revived(self, call_id: str, blob: bytes, turns: Sequence[bytes]) -> CallState | None:
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

    # -- saving ------------------------------------------------------------------------------

    def save(self, state: CallState) -> None:
        """Mark the call changed; the save task writes it soon, without anyone waiting."""
        sync = state.sync
        if sync is None or sync.lost:
            return
        self._dirty[state.call.call_id] = state
        self._saved.clear()
        self._wake.set()

    def release(self, call_id: str, state: CallState) -> None:
        """The call's socket closed: written as released; forgotten here after the grace."""
        if self._local.get(call_id) is not state or state.sync is None or state.sync.lost:
            return
        state.sync.released = True
        self.save(state)
        loop = asyncio.get_running_loop()
        self._expiry[call_id] = loop.call_later(self.grace, self._forget, call_id, state)

    async def flush(self) -> None:
        """Wait until every change so far is written (bound it with ``asyncio.timeout``)."""
        await self._saved.wait()

    async def _save_loop(self) -> None:
        backoff = 0.0
        while True:
            if not self._dirty:
                self._saved.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = list(self._dirty.values())
            self._dirty.clear()
            try:
                async with asyncio.timeout(self.timeout):
                    retry = await self._write(batch)
            except _FAILURES as exc:
                self._failed("save", exc)
                for state in batch:  # a newer mark of the same call keeps its place
                    self._dirty.setdefault(state.call.call_id, state)
                self._drop_forgotten()
                backoff = min(max(backoff * 2, 0.1), BACKOFF_MAX)
                await asyncio.sleep(backoff)
                continue
            self._recovered()
            backoff = 0.0
            for state in retry:
                self._dirty.setdefault(state.call.call_id, state)

    async def _write(self, batch: list[CallState]) -> list[CallState]:
        """Write ``batch`` in one round trip; returns the calls to write again (whole)."""
        script = self._scripts["save"]
        pipe = self.redis.pipeline(transaction=False)
        counts, releases = [], []
        for state in batch:
            sync = state.sync
            assert sync is not None
            sync.seq += 1
            whole = not sync.leased or sync.saved_turns < 0
            new = state.turns if whole else state.turns[sync.saved_turns :]
            counts.append(len(state.turns))
            releases.append(sync.released)
            args = [
                state.call.call_id,
                self.instance,
                sync.epoch if sync.leased else 0,
                sync.seq,
                encode_state(state),
                _ms(LIVE_TTL),
                1 if sync.released else 0,
                _ms(self.grace),
                _ms(self.grace + KEPT_AFTER_GRACE),
                max(sync.saved_turns, 0),
                1 if whole else 0,
                *(encode_turn(turn) for turn in new),
            ]
            keys = [call_key(state.call.call_id), turns_key(state.call.call_id), EXPIRING]
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        results = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in results):
            await self._load_scripts()  # Redis restarted and forgot its scripts
            return batch
        retry = []
        for state, count, released, result in zip(batch, counts, releases, results, strict=True):
            if isinstance(result, Exception):
                raise result
            sync = state.sync
            assert sync is not None
            if result == -1:
                self._lost(state)
            elif result == -2:
                sync.saved_turns = -1
                retry.append(state)
            else:
                if result > 0:
                    sync.epoch, sync.leased = int(result), True
                sync.saved_turns = count
                sync.release_saved = released and sync.released
                self._forgotten.pop(state.call.call_id, None)
        return retry

    def _drop_forgotten(self) -> None:
        """Calls that ended here while Redis was out are offered for a while, then dropped."""
        now = time.monotonic()
        for call_id, since in list(self._forgotten.items()):
            if now - since > FORGOTTEN_KEPT:
                del self._forgotten[call_id]
                if self._dirty.pop(call_id, None) is not None:
                    log.warning("store.save_dropped", call_id=call_id)

    # -- the end of a call here --------------------------------------------------------------

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
            self._forgotten[call_id] = time.monotonic()
            self.save(state)
        state.conversation.close()
        if not self._local:
            memory.release()

    def _lost(self, state: CallState) -> None:
        """Another process serves the call now: stop speaking for it here, write nothing more."""
        call_id = state.call.call_id
        sync = state.sync
        if sync is None or sync.lost:
            return
        sync.lost = True
        self._dirty.pop(call_id, None)
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

    async def _listen_loop(self) -> None:
        """Follow ``dialplan:taken``: an older socket of a call taken elsewhere is closed."""
        backoff = 0.0
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(TAKEN)
                backoff = 0.0
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._taken(message["data"])
            except _FAILURES as exc:
                self._failed("listen", exc)
                backoff = min(max(backoff * 2, 0.1), BACKOFF_MAX)
                await asyncio.sleep(backoff)
            finally:
                # redis-py leaves this one untyped.
                await asyncio.shield(_quietly(pubsub.aclose()))  # type: ignore[no-untyped-call]

    def _taken(self, data: bytes) -> None:
        call_id, _, instance = data.decode().rpartition(" ")
        state = self._local.get(call_id)
        if state is not None and instance != self.instance:
            self._lost(state)

    async def _housekeeping_loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    moved, claimed = await self._housekeeping()
            except _FAILURES as exc:
                self._failed("housekeeping", exc)
            else:
                self._recovered()
                if moved:
                    log.info("store.calls_of_stopped_processes", calls=moved)
                self._record_claimed(claimed)
            await asyncio.sleep(HOUSEKEEPING_EVERY)

    async def _housekeeping(self) -> tuple[int, list[Any]]:
        """A heartbeat, and the calls whose grace period is over; one round trip."""
        housekeeping, claim = self._scripts["housekeeping"], self._scripts["claim"]
        pipe = self.redis.pipeline(transaction=False)
        pipe.evalsha(
            housekeeping.sha,
            2,
            INSTANCES,
            EXPIRING,
            self.instance,
            _ms(DEAD_AFTER),
            _ms(self.grace),
            _ms(self.grace + KEPT_AFTER_GRACE),
        )
        pipe.evalsha(claim.sha, 1, EXPIRING, CLAIM_AT_ONCE)
        try:
            moved, claimed = await pipe.execute()
        except NoScriptError:
            await self._load_scripts()  # Redis restarted and forgot its scripts
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
            memory.release()

    async def _load_scripts(self) -> None:
        for script in self._scripts.values():
            script.sha = await self.redis.script_load(script.script)

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self._scripts[name](keys=keys, args=args)

    # -- health ------------------------------------------------------------------------------

    def _failed(self, what: str, exc: BaseException) -> None:
        problem = f"redis at {redacted(self.url)} is unreachable ({what}: {exc!r})"
        if self.problem is None:
            log.error("store.unavailable", problem=problem, unsaved=len(self._dirty))
        self.problem = problem

    def _recovered(self) -> None:
        if self.problem is not None:
            log.info("store.available", url=redacted(self.url))
            self.problem = None

    def health(self) -> dict[str, Any]:
        """``/readyz``: the store, whether Redis answers, and how many calls wait to be saved."""
        return {
            "kind": "redis",
            "url": redacted(self.url),
            "state": "degraded" if self.problem else "ok",
            "problem": self.problem,
            "unsaved": len(self._dirty),
        }

    # -- what this process holds -------------------------------------------------------------

    def get(self, call_id: str) -> CallState | None:
        """See :meth:`~engine.server.store.CallStore.get`."""
        return self._local.get(call_id)

    def calls(self) -> list[CallState]:
        """See :meth:`~engine.server.store.CallStore.calls`."""
        return list(self._local.values())

    def __len__(self) -> int:
        return len(self._local)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


async def _quietly(closing: Any) -> None:
    with contextlib.suppress(*_FAILURES):
        await closing
