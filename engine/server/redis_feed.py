"""The console's live feed across every worker and host: calls in progress kept in Redis.

With ``DIALPLAN_STORE=redis://...`` a call may be served by any worker of any host, and the
console page may be served by another one. So every process publishes its calls' snapshots
(already masked, plain JSON: :class:`~engine.console.CallSnapshot`) to the shared Redis:

* ``dialplan:live`` is a hash of the calls in progress, call id to snapshot; an ended call
  leaves it and is kept for :data:`ENDED_KEPT` seconds as ``dialplan:live:ended:<call id>``
  (its card on a page that reconnects, the try-a-call panel);
* ``dialplan:live:changes`` carries every snapshot, with the process that sent it, to every
  process, whose console pages then show it;
* ``dialplan:live:watching`` carries a note from each process while a page of its console
  watches the calls (every :data:`WATCH_EVERY` seconds), and when its console shows a call
  it does not serve.

A call's snapshot holds the whole call so far, and most turns no page watches: a process makes
and publishes its calls' snapshots after every turn only while some page of any process
watches (up to :data:`WATCH_HELD` seconds after the last note). Meanwhile a call is published
only when its socket closes and when it ends, and its changes are kept as a way to make its
snapshot; when a page starts watching, every process publishes the calls it kept so, as they
are then, and the page shows them. A process's own page and cards always show its calls as
they are now.

The two rules of :class:`~engine.console.LiveFeed` hold: :meth:`RedisLiveFeed.publish` only
notes the snapshot (the newest of each call) and a background task writes them, many calls in
one round trip, so a call never waits for Redis; a page that reads slowly gets the newest
snapshot of each call (the in-process :class:`~engine.console.MemoryLiveFeed` below does the
fanning out). When Redis is away, this process's own calls still show at once (they are
published here first), and the rest come back with it. A live entry that no process updates
for :data:`STALE_AFTER` seconds is not shown (its process died and no claimer ended it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog

from engine.console import CallSnapshot, MemoryLiveFeed, Subscription
from engine.console.feed import Making

from .redis_link import FAILURES
from .redis_scripts import PREFIX

log = structlog.get_logger("dialplan.console")

LIVE = f"{PREFIX}:live"
CHANGES = f"{PREFIX}:live:changes"
WATCHING = f"{PREFIX}:live:watching"
WATCH_EVERY = 5.0
"""Seconds between the notes a process sends while a page of its console watches."""
WATCH_HELD = 3 * WATCH_EVERY
"""Seconds every process publishes each change of its calls after the last note."""
ENDED_KEPT = 600
"""Seconds an ended call stays readable by :meth:`RedisLiveFeed.get`."""
STALE_AFTER = 3 * 3600.0
"""Seconds after which a live entry nobody updates is taken for a leftover (a call publishes
after every turn; the platform allows two hours)."""
BACKOFF_MAX = 5.0


def ended_key(call_id: str) -> str:
    """Where an ended call's last snapshot is kept for a while."""
    return f"{LIVE}:ended:{call_id}"


class RedisLiveFeed:
    """A :class:`~engine.console.LiveFeed` shared through Redis; see the module docstring.

    ``redis`` is a client of the feed's own on the shared store's Redis
    (:meth:`~engine.server.redis_link.RedisLink.client`; closed by :meth:`stop`), never the
    store's: a call's save must not wait behind the console. ``instance`` names this process,
    so that it does not take its own snapshots twice.
    """

    def __init__(self, redis: aioredis.Redis, instance: str, timeout: float = 1.0) -> None:
        self.redis = redis
        self.instance = instance
        self.timeout = timeout
        self.local = MemoryLiveFeed()
        """This process's view: its own calls at once, everyone's as they come."""
        self._outgoing: OrderedDict[str, CallSnapshot] = OrderedDict()
        self._mine: set[str] = set()
        """Calls in progress that this process published (shown even while Redis is away)."""
        self._unpublished: dict[str, Making] = {}
        """Calls of this process that changed while no page watched, to publish when one does."""
        self._watched_until = 0.0  # monotonic: a page of another process watches until then
        self._told_at = -WATCH_EVERY  # monotonic: when this process last said a page watches
        self._tell = False  # say it now: this console shows a call of another process
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start writing what is published and listening for other processes' calls."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._write(), name="live:write"),
            loop.create_task(self._listen(), name="live:listen"),
        ]

    async def stop(self) -> None:
        """Write what is left (bounded), stop the background tasks, close the client."""
        if self._outgoing:
            with contextlib.suppress(*FAILURES):
                async with asyncio.timeout(2 * self.timeout):
                    await self._flush()
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(*FAILURES):
            await self.redis.aclose()

    # -- the LiveFeed interface --------------------------------------------------------------

    def publish(self, snapshot: CallSnapshot) -> None:
        """See :meth:`engine.console.LiveFeed.publish`: shown here now, written soon."""
        self.local.publish(snapshot)
        if snapshot.status == "ended":
            self._mine.discard(snapshot.call_id)
        else:
            self._mine.add(snapshot.call_id)
        self._unpublished.pop(snapshot.call_id, None)
        self._outgoing.pop(snapshot.call_id, None)
        self._outgoing[snapshot.call_id] = snapshot
        self._wake.set()

    def changed(self, call_id: str, make: Making) -> None:
        """A call of this process changed: published now while a page watches, else kept.

        Kept, its snapshot is made when this process's console reads it, or when a page of
        any process starts watching (see the module docstring). Returns at once and never
        raises (``make`` must not either).
        """
        if self._watched():
            snapshot = make()
            if snapshot is not None:
                self.publish(snapshot)
            return
        self.local.changed(call_id, make)
        self._mine.add(call_id)
        self._unpublished[call_id] = make

    def _watched(self) -> bool:
        return self.local.subscribers > 0 or time.monotonic() < self._watched_until

    def _watching(self) -> None:
        """A page watches (here, or another process said so): publish what was kept."""
        for make in list(self._unpublished.values()):
            snapshot = make()
            if snapshot is not None:
                self.publish(snapshot)
        self._unpublished.clear()

    async def current(self) -> list[CallSnapshot]:
        """Every call in progress on every process (this one's alone while Redis is away)."""
        calls = {c.call_id: c for c in await self.local.current() if c.call_id in self._mine}
        try:
            async with asyncio.timeout(self.timeout):
                stored = await self.redis.hgetall(LIVE)
        except FAILURES as exc:
            log.warning("console.live_unreadable", error=str(exc))
            stored = {}
        oldest = time.time() - STALE_AFTER
        for blob in stored.values():
            found = _snapshot(blob)
            if found is None or found.status == "ended" or found.updated_at < oldest:
                continue
            mine = calls.get(found.call_id)
            if mine is None or mine.updated_at < found.updated_at:
                calls[found.call_id] = found
        return sorted(calls.values(), key=lambda s: (s.started_at, s.call_id))

    async def get(self, call_id: str) -> CallSnapshot | None:
        """A call in progress or recently ended, wherever it is served.

        A call another process serves is as that process last published it: asking for one
        tells every process that a page watches, so that its next turns are published.
        """
        mine = await self.local.get(call_id)
        if call_id not in self._mine:
            self._tell = True
            self._wake.set()
        try:
            async with asyncio.timeout(self.timeout):
                pipe = self.redis.pipeline(transaction=False)
                pipe.hget(LIVE, call_id)
                pipe.get(ended_key(call_id))
                live, ended = await pipe.execute()
        except FAILURES:
            return mine
        found = [s for s in (_snapshot(live), _snapshot(ended), mine) if s is not None]
        return max(found, key=lambda s: s.updated_at) if found else None

    def subscribe(self) -> Subscription:
        """Every snapshot from now on, of every process's calls."""
        subscription = self.local.subscribe()
        self._watching()
        self._tell = True  # every other process: publish your calls, and each change of them
        self._wake.set()
        return subscription

    def close(self) -> None:
        """The server stops: end every subscription (:meth:`stop` ends the tasks)."""
        self.local.close()

    # -- background work ---------------------------------------------------------------------

    async def _write(self) -> None:
        """Write the snapshots published here, the newest of each call, in one round trip.

        While a page of this process watches, say so every :data:`WATCH_EVERY` seconds.
        """
        pause = 0.0
        while not self._stopping:
            telling = self._tell or (
                self.local.subscribers > 0 and time.monotonic() - self._told_at >= WATCH_EVERY
            )
            if not self._outgoing and not telling:
                self._wake.clear()
                due = self._told_at + WATCH_EVERY - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(due, 0.0) if self.local.subscribers else None):
                        await self._wake.wait()
                continue
            try:
                async with asyncio.timeout(self.timeout):
                    await self._flush(telling)
                pause = 0.0
            except FAILURES as exc:
                pause = min(max(pause * 2, 0.1), BACKOFF_MAX)
                log.warning("console.live_unsaved", error=str(exc), calls=len(self._outgoing))
                await asyncio.sleep(pause)

    async def _flush(self, telling: bool = False) -> None:
        batch = list(self._outgoing.values())
        pipe = self.redis.pipeline(transaction=False)
        if telling:
            self._tell = False
            pipe.publish(WATCHING, orjson.dumps(self.instance))
        for snapshot in batch:
            data = orjson.dumps(snapshot.to_json())
            if snapshot.status == "ended":
                pipe.hdel(LIVE, snapshot.call_id)
                pipe.set(ended_key(snapshot.call_id), data, ex=ENDED_KEPT)
            else:
                pipe.hset(LIVE, snapshot.call_id, data)
            message = b'{"origin":' + orjson.dumps(self.instance) + b',"call":' + data + b"}"
            pipe.publish(CHANGES, message)
        await pipe.execute()
        if telling:
            self._told_at = time.monotonic()
        for snapshot in batch:  # written: forget it, unless a newer one came meanwhile
            if self._outgoing.get(snapshot.call_id) is snapshot:
                del self._outgoing[snapshot.call_id]

    async def _listen(self) -> None:
        """Take other processes' snapshots from the channel into this process's view."""
        backoff = 0.0
        while not self._stopping:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANGES, WATCHING)
                backoff = 0.0
                while not self._stopping:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["channel"] in (WATCHING, WATCHING.encode()):
                        self._noted(message["data"])
                    else:
                        self._received(message["data"])
            except FAILURES as exc:
                log.warning("console.live_unheard", error=str(exc))
                backoff = min(max(backoff * 2, 0.1), BACKOFF_MAX)
                await asyncio.sleep(backoff)
            finally:
                with contextlib.suppress(*FAILURES):
                    await asyncio.shield(pubsub.aclose())

    def _noted(self, data: bytes) -> None:
        """Another process says a page of its console watches."""
        try:
            if orjson.loads(data) == self.instance:
                return  # its own note: this process knows already
        except orjson.JSONDecodeError:
            log.warning("console.live_message_unreadable", size=len(data))
            return
        watched = self._watched()
        self._watched_until = time.monotonic() + WATCH_HELD
        if not watched:
            self._watching()

    def _received(self, data: bytes) -> None:
        try:
            message: dict[str, Any] = orjson.loads(data)
            if message.get("origin") == self.instance:
                return  # shown here when it was published
            snapshot = CallSnapshot.from_json(message["call"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("console.live_message_unreadable", size=len(data))
            return
        self.local.publish(snapshot)


def _snapshot(blob: bytes | str | None) -> CallSnapshot | None:
    if blob is None:
        return None
    try:
        return CallSnapshot.from_json(orjson.loads(blob))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
