"""The live feed: what the console knows of calls in progress, published by the call server.

The server publishes a :class:`CallSnapshot` of a call when its socket opens, after every
finished turn, when its socket closes and when the call is over; the console reads the calls
in progress and subscribes to what changes. Snapshots are plain JSON-ready data with every
sensitive value already masked, so they can cross a process boundary as they are and can never
show a secret.

:class:`LiveFeed` is the interface. :class:`MemoryLiveFeed` serves one process: the console
of a worker sees the calls of that worker. Beside the shared call store,
:class:`engine.server.redis_feed.RedisLiveFeed` fills the same interface for every worker and
host: ``publish`` puts the snapshot's JSON into a Redis hash keyed by call id (ended calls
kept briefly with an expiry) and on a channel, ``current`` and ``get`` read the hash, and a
subscription reads the channel. Two rules hold for every implementation, because a call must
never wait for the console: ``publish`` returns at once and never raises, and a subscriber
that falls behind loses intermediate snapshots of a call (it gets the newest), never blocks
the publisher.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

Status: TypeAlias = Literal["live", "reconnecting", "ended"]
"""``live``: a socket serves the call; ``reconnecting``: its socket closed and the call may
come back within the grace period; ``ended``: the call is over."""


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """One call as the console shows it, at one moment. Sensitive values are masked."""

    call_id: str
    status: Status = "live"
    flow: str | None = None
    state: str | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    sensitive: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    transcript: tuple[Mapping[str, Any], ...] = ()
    """``{role, content}`` per utterance: the platform's last transcript, then the agent's
    latest answer if the platform has not sent it back yet."""
    last_turn: Mapping[str, Any] | None = None
    """The last turn's record (:class:`~engine.records.TurnRecord` as JSON)."""
    turns: int = 0
    started_at: float = 0.0
    """Unix seconds."""
    updated_at: float = field(default_factory=time.time)
    from_number: str | None = None
    ended_by: str | None = None
    """``hang_up`` or ``transfer`` when the agent ended the call."""

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON-ready data (what a shared feed sends between processes)."""
        return {
            "call_id": self.call_id,
            "status": self.status,
            "flow": self.flow,
            "state": self.state,
            "slots": dict(self.slots),
            "sensitive": list(self.sensitive),
            "path": list(self.path),
            "transcript": [dict(u) for u in self.transcript],
            "last_turn": dict(self.last_turn) if self.last_turn is not None else None,
            "turns": self.turns,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "from_number": self.from_number,
            "ended_by": self.ended_by,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallSnapshot:
        """A snapshot from :meth:`to_json` data."""
        return cls(
            call_id=str(data["call_id"]),
            status=data.get("status", "live"),
            flow=data.get("flow"),
            state=data.get("state"),
            slots=dict(data.get("slots") or {}),
            sensitive=tuple(data.get("sensitive") or ()),
            path=tuple(data.get("path") or ()),
            transcript=tuple(dict(u) for u in data.get("transcript") or ()),
            last_turn=data.get("last_turn"),
            turns=int(data.get("turns") or 0),
            started_at=float(data.get("started_at") or 0.0),
            updated_at=float(data.get("updated_at") or 0.0),
            from_number=data.get("from_number"),
            ended_by=data.get("ended_by"),
        )


class Subscription(Protocol):
    """What changes in the feed, one snapshot at a time (only the newest of each call)."""

    async def next(self, timeout: float) -> CallSnapshot | None:  # noqa: ASYNC109 (a poll)
        """The next changed call; ``None`` when nothing changed within ``timeout`` seconds.

        Raises :class:`EOFError` once the subscription is closed (the server stops).
        """
        ...

    def close(self) -> None:
        """Stop receiving."""


class LiveFeed(Protocol):
    """Where calls in progress are published and read; see the module docstring."""

    def publish(self, snapshot: CallSnapshot) -> None:
        """Make ``snapshot`` the call's newest; returns at once and never raises."""

    async def current(self) -> list[CallSnapshot]:
        """The calls in progress (live or reconnecting), oldest first."""
        ...

    async def get(self, call_id: str) -> CallSnapshot | None:
        """The newest snapshot of a call in progress or recently ended, if any."""
        ...

    def subscribe(self) -> Subscription:
        """A subscription to every snapshot published from now on."""
        ...

    def close(self) -> None:
        """The server stops: end every subscription."""


Making: TypeAlias = Callable[[], "CallSnapshot | None"]
"""Makes a call's snapshot as it is now (``None``: it cannot be made)."""


class Changes(Protocol):
    """A feed that is told a call changed and makes its snapshot only when it is needed."""

    def changed(self, call_id: str, make: Making) -> None:
        """A call in progress changed; ``make`` makes its snapshot. Returns at once."""


class MemoryLiveFeed:
    """The live feed of one process; ``recent`` ended calls stay readable by :meth:`get`.

    A call in progress that changed while nobody watched is kept as a way to make its
    snapshot (:meth:`changed`), made when it is read: a call of some minutes has a turn every
    few seconds, and each snapshot holds the whole call so far.
    """

    def __init__(self, recent: int = 200) -> None:
        self.recent = recent
        # A snapshot, or a way to make one with the snapshot it replaces (kept if it fails).
        self._live: dict[str, CallSnapshot | tuple[Making, CallSnapshot | None]] = {}
        self._ended: OrderedDict[str, CallSnapshot] = OrderedDict()
        self._subscribers: set[_MemorySubscription] = set()

    def publish(self, snapshot: CallSnapshot) -> None:
        """See :meth:`LiveFeed.publish`."""
        call_id = snapshot.call_id
        if snapshot.status == "ended":
            self._live.pop(call_id, None)
            self._ended[call_id] = snapshot
            self._ended.move_to_end(call_id)
            while len(self._ended) > self.recent:
                self._ended.popitem(last=False)
        else:
            self._ended.pop(call_id, None)  # a call that comes back after its end
            self._live[call_id] = snapshot
        for subscriber in self._subscribers:
            subscriber.put(snapshot)

    def changed(self, call_id: str, make: Making) -> None:
        """A call in progress changed: its snapshot is made now if anyone watches, else when read.

        Like :meth:`publish`, returns at once and never raises (``make`` must not either).
        """
        if self._subscribers:
            snapshot = make()
            if snapshot is not None:
                self.publish(snapshot)
            return
        self._ended.pop(call_id, None)  # a call that comes back after its end
        found = self._live.get(call_id)
        before = found[1] if isinstance(found, tuple) else found
        self._live[call_id] = (make, before)

    def _made(self, call_id: str) -> CallSnapshot | None:
        """The call's snapshot, made now (and kept) if it was left to be made."""
        found = self._live.get(call_id)
        if not isinstance(found, tuple):
            return found
        make, before = found
        snapshot = make() or before  # one that cannot be made leaves the one before
        if self._live.get(call_id) is found:
            if snapshot is None:
                del self._live[call_id]
            else:
                self._live[call_id] = snapshot
        return snapshot

    async def current(self) -> list[CallSnapshot]:
        """See :meth:`LiveFeed.current`."""
        made = (self._made(call_id) for call_id in list(self._live))
        return sorted((s for s in made if s is not None), key=lambda s: (s.started_at, s.call_id))

    async def get(self, call_id: str) -> CallSnapshot | None:
        """See :meth:`LiveFeed.get`."""
        return self._made(call_id) or self._ended.get(call_id)

    def subscribe(self) -> Subscription:
        """See :meth:`LiveFeed.subscribe`."""
        subscription = _MemorySubscription(self._subscribers.discard)
        self._subscribers.add(subscription)
        return subscription

    def close(self) -> None:
        """See :meth:`LiveFeed.close`."""
        for subscriber in list(self._subscribers):
            subscriber.close()

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscribers)


class _MemorySubscription:
    """Pending snapshots by call id, for one subscriber.

    A call that changes twice before it is read is sent once, as it is now, so a slow reader
    costs memory per call, never per turn.
    """

    def __init__(self, forget: Any) -> None:
        self._pending: OrderedDict[str, CallSnapshot] = OrderedDict()
        self._changed = asyncio.Event()
        self._forget = forget
        self.closed = False

    def put(self, snapshot: CallSnapshot) -> None:
        self._pending.pop(snapshot.call_id, None)
        self._pending[snapshot.call_id] = snapshot
        self._changed.set()

    async def next(self, timeout: float) -> CallSnapshot | None:  # noqa: ASYNC109 (a poll)
        if not self._pending and not self.closed:
            self._changed.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
            except TimeoutError:
                return None
        if self.closed:
            raise EOFError("the live feed is closed")
        if not self._pending:
            return None
        _, snapshot = self._pending.popitem(last=False)
        return snapshot

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        self._changed.set()
        self._forget(self)
