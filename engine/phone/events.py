"""The platform's call events (its webhook), kept once each and joined to the call's record.

The platform POSTs ``{"event": "call_ended", "call": {...}}`` for ``call_started``,
``call_ended``, ``call_analyzed`` and the transfer events; other events are ignored. The
request is answered at once; the event waits in a queue and is written to the call log by a
background task. It is kept once per call and event (the platform retries until it gets a
2xx, so the same event can come twice), whether or not the call's record exists yet: the
record and its events are joined when the record is read. An event of a call dialplan placed
(``metadata.dialplan.placement``) also marks that placement as placed, with its call id.

An event that comes after the call's record was written (the platform's ``call_ended``, with
the recording, comes seconds after the call; its ``call_analyzed`` later still) queues a
webhook event of its own in the same transaction, with the whole record as it is now:
``call.analyzed`` for the analysis, ``call.updated`` for anything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.protocol import call_id_problem
from engine.records import Database
from engine.records.model import LIFECYCLE
from engine.records.tables import PlacementRow, PlatformEventRow

if TYPE_CHECKING:
    from .placing import RunBlocking  # placing loads the platform's HTTP client

log = structlog.get_logger("dialplan.phone")

CALL_EVENTS = frozenset(LIFECYCLE)
"""The events kept: ``call_started``, ``call_ended``, ``call_analyzed``, ``transfer_*``."""


@dataclass(frozen=True)
class PlatformEvent:
    """One call event as the platform sent it."""

    event: str
    call_id: str
    call: Mapping[str, Any]
    received_at: datetime

    @property
    def placement(self) -> str | None:
        """The placement of a call dialplan placed (from the call's metadata)."""
        metadata = self.call.get("metadata")
        mine = metadata.get("dialplan") if isinstance(metadata, Mapping) else None
        found = mine.get("placement") if isinstance(mine, Mapping) else None
        return found if isinstance(found, str) else None


class EventStore:
    """The platform's events in the call log (blocking; run on the call log's thread)."""

    def __init__(self, database: Database, follow_ups: bool = False) -> None:
        self.database = database
        self.engine = database.engine
        self.follow_ups = follow_ups
        """Whether a late event is sent on to the webhook (one is configured)."""

    def add(self, event: PlatformEvent) -> Kept:
        """Keep ``event``: whether it was new, and the webhook event it queued, if any."""
        try:
            with Session(self.engine) as session, session.begin():
                session.add(
                    PlatformEventRow(
                        call_id=event.call_id,
                        event=event.event,
                        received_at=event.received_at,
                        call=dict(event.call),
                    )
                )
                session.flush()  # a duplicate fails here, before the placement is touched
                placement = event.placement
                row = session.get(PlacementRow, placement) if placement else None
                if row is not None and (row.status != "placed" or row.call_id != event.call_id):
                    row.status, row.call_id, row.error = "placed", event.call_id, None
                    row.updated_at = event.received_at
                queued = None
                if self.follow_ups:
                    queued = self.database.follow_up(session, event.call_id, event.event)
        except IntegrityError:
            return Kept(False)
        return Kept(True, queued)


@dataclass(frozen=True)
class Kept:
    """What keeping a platform event did."""

    new: bool
    """``False``: the same event of the same call was kept already (a retry)."""
    queued: str | None = None
    """The id of the webhook event it queued (the call had ended already)."""


class EventQueue:
    """Events taken by the webhook, written to the call log in the background, in order.

    A full queue refuses (the webhook answers 503 and the platform sends the event again
    later); a call log that cannot be written is tried again, with a growing pause.
    """

    def __init__(
        self,
        store: EventStore,
        run: RunBlocking,
        size: int = 10_000,
        on_follow_up: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.run_blocking = run
        self.on_follow_up = on_follow_up
        """Told when an event queued a webhook event (so that it goes out now)."""
        self._queue: asyncio.Queue[PlatformEvent] = asyncio.Queue(size)
        self._task: asyncio.Task[None] | None = None
        self.kept = 0
        self.duplicates = 0

    def submit(self, event: PlatformEvent) -> bool:
        """Queue ``event``; ``False`` if the queue is full."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def start(self) -> None:
        """Start writing in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="platform-events")

    async def drain(self) -> None:
        """Wait until every queued event is written."""
        await self._queue.join()

    async def stop(self, within: float = 5.0) -> None:
        """Write what is queued (for up to ``within`` seconds), then stop."""
        if self._task is None:
            return
        try:
            async with asyncio.timeout(within):
                await self._queue.join()
        except TimeoutError:
            log.error("platform.events_lost", count=self._queue.qsize())
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._write(event)
            finally:
                self._queue.task_done()  # a drain or a stop never waits for a lost cause

    async def _write(self, event: PlatformEvent) -> None:
        pause = 0.5
        while True:
            try:
                kept: Kept = await self.run_blocking(self.store.add, event)
                break
            except Exception as exc:  # the database is away: try again, the event waits
                log.error("platform.event_unsaved", call_id=event.call_id, error=str(exc))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
        if kept.new:
            self.kept += 1
            log.info("platform.event", call_id=event.call_id, kind=event.event)
            if kept.queued is not None and self.on_follow_up is not None:
                self.on_follow_up()
        else:
            self.duplicates += 1
            log.info("platform.event_duplicate", call_id=event.call_id, kind=event.event)


def parse_event(body: Any) -> PlatformEvent | str | None:
    """A call event from a webhook's parsed JSON.

    ``None`` for an event that is not kept; the reason, as a string, when the body is not an
    event at all.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("event"), str):
        return "the body has no `event`"
    name = body["event"]
    if name not in CALL_EVENTS:
        return None
    call = body.get("call")
    if not isinstance(call, Mapping) or not isinstance(call.get("call_id"), str):
        return f"the {name} event has no `call.call_id`"
    problem = call_id_problem(call["call_id"])
    if problem is not None:
        return problem
    return PlatformEvent(name, call["call_id"], call, datetime.now(UTC))
