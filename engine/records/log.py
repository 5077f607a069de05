"""The call log as the server uses it: records written off the event loop, webhooks sent.

Database work runs on one thread of its own, so no call ever waits for it (and SQLite sees
one writer per process). A record is built and written when its call ends or is transferred;
the webhook events it causes are written in the same transaction and a background
:class:`~engine.records.webhook.Deliverer` sends them. Without a database URL nothing is
kept; without a webhook URL nothing is queued.

A write that fails (the database restarting or away, a disk full or read-only) loses nothing:
the record, with its events, waits in this process and is written again, oldest first, after
a pause that doubles from half a second up to 30 s, until the database takes it. Meanwhile
``/readyz`` says how many wait, and what failed in a few words (never the database's URL or a
statement): :meth:`CallLog.health`. A server that stops keeps trying for
:data:`STOP_TRYING` seconds; a record still unwritten then is logged as lost, by call id.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from engine.settings import Settings

from .database import Database, RecordsError, failure_of
from .model import CallFacts, CallRecord, build_record
from .outbox import Outbox
from .versions import FlowVersions

if TYPE_CHECKING:
    from engine.flow.source import FlowSource

    from .webhook import Deliverer

log = structlog.get_logger("dialplan.records")

T = TypeVar("T")

CALL_ENDED = "call.ended"
CALL_TRANSFERRED = "call.transferred"

RETRY_FIRST = 0.5
"""Seconds before a record whose write failed is tried again; doubles up to the next."""
RETRY_LONGEST = 30.0
WAITING_MOST = 1000
"""Records that may wait before ``/readyz`` says the server should take no more calls (they
are all kept, and written once the database is back)."""
STOP_TRYING = 10.0
"""Seconds a stopping server keeps trying to write the records that wait."""


@dataclass
class _Waiting:
    """A record to write, with its events; built once, on the call log's thread."""

    facts: CallFacts
    events: tuple[str, ...]
    record: CallRecord | None = None


class CallLog:
    """One server process's call log; :meth:`start` and :meth:`stop` bracket its serving."""

    def __init__(self, settings: Settings) -> None:
        self.database = Database(settings.database_url) if settings.database_url else None
        self.outbox = Outbox(self.database) if self.database else None
        self.settings = settings
        self.failure: str | None = None
        """What the last failed write met, in a few words (``None`` once one succeeds)."""
        self._ready = False
        self._stopped = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dialplan-records")
        self._waiting: deque[_Waiting] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writing: asyncio.Task[None] | None = None
        self.deliverer: Deliverer | None = None
        self._delivering: asyncio.Task[None] | None = None

    @property
    def webhook(self) -> bool:
        """Whether records are sent to a webhook."""
        return bool(self.settings.webhook_url and self.settings.webhook_secret and self.outbox)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn(*args)`` on the call log's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def start(self) -> None:
        """Bring the schema up to date and start delivering webhooks (pending ones too)."""
        if self.database is None:
            return
        await self._migrate()

    def _start_delivering(self) -> None:
        settings = self.settings
        if self.webhook and self.deliverer is None and self.outbox is not None:
            assert settings.webhook_url and settings.webhook_secret
            from .webhook import Deliverer  # with its HTTP client: only a server with a webhook

            self.deliverer = Deliverer(
                self.outbox,
                self.run,
                url=settings.webhook_url,
                secret=settings.webhook_secret.get_secret_value().encode(),
                timeout=settings.webhook_timeout,
                attempts=settings.webhook_attempts,
                retry_delay=settings.webhook_retry_delay,
            )
            self._delivering = asyncio.create_task(self.deliverer.run(), name="webhooks")

    async def _migrate(self) -> bool:
        assert self.database is not None
        try:
            await self.run(self.database.migrate)
        except RecordsError as exc:
            self.failure = "the call log cannot be reached or its schema brought up to date"
            log.error("records.unavailable", error=str(exc))
            return False
        self._ready = True
        self._start_delivering()  # pending events from before a restart go out now
        return True

    def write(self, facts: CallFacts, event: str = CALL_ENDED) -> None:
        """Write the record of a call (and queue its webhook ``event``) in the background.

        Nothing waits for it; a write that fails is tried again until it succeeds.
        """
        if self.database is None:
            return
        if self._stopped:
            log.error("call.record_lost", call_id=facts.call.call_id, reason="server stopped")
            return
        self._waiting.append(_Waiting(facts, (event,) if self.webhook else ()))
        self._idle.clear()
        self._wake.set()
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_waiting(), name="records")

    async def _write_waiting(self) -> None:
        """Write the records that wait, oldest first; pause after a failure, then again."""
        pause = 0.0
        while True:
            if not self._waiting:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            if await self._write_one(self._waiting[0]):
                self._waiting.popleft()
                pause = 0.0
                continue
            pause = min(max(pause * 2, RETRY_FIRST), RETRY_LONGEST)
            await asyncio.sleep(pause)

    async def _write_one(self, waiting: _Waiting) -> bool:
        """Write one record; ``False`` if it must be tried again (it is then still waiting)."""
        assert self.database is not None
        call_id = waiting.facts.call.call_id
        if not self._ready and not await self._migrate():
            log.warning("call.record_waits", call_id=call_id, waiting=len(self._waiting))
            return False
        if waiting.record is None:
            try:
                waiting.record = await self.run(build_record, waiting.facts)
            except Exception:  # a conversation's odd data: no write can ever take it
                log.exception("call.record_lost", call_id=call_id, reason="record not built")
                return True
        record = waiting.record
        try:
            await self.run(self.database.save, record, waiting.events)
        except Exception as exc:  # the database went away, restarted, a disk filled up...
            # Only the kind of failure: the driver's words may name the database's host.
            self.failure = (
                f"the last write failed ({type(getattr(exc, 'orig', None) or exc).__name__})"
            )
            log.error(
                "call.record_waits",
                call_id=call_id,
                error=failure_of(exc),
                waiting=len(self._waiting),
            )
            return False
        self.failure = None
        log.info(
            "call.recorded", call_id=call_id, outcome=record.outcome, events=list(waiting.events)
        )
        if waiting.events and self.deliverer is not None:
            self.deliverer.wake()
        return True

    def wake_deliverer(self) -> None:
        """New webhook events are queued: send them now, not at the next look."""
        if self.deliverer is not None:
            self.deliverer.wake()

    @property
    def waiting(self) -> int:
        """Records not written yet (being written, or waiting to be tried again)."""
        return len(self._waiting)

    @property
    def problem(self) -> str | None:
        """Why the server should take no more calls for its call log (``None``: it may).

        Records that wait are no reason while there are few: they are kept and written once
        the database is back. Too many, and this process should get no new calls.
        """
        if len(self._waiting) < WAITING_MOST:
            return None
        return f"{len(self._waiting)} call records wait: the call log cannot be written"

    def health(self) -> dict[str, Any]:
        """For ``/readyz``: whether records are written, how many wait and what failed.

        Only what failed, in a few words: never the database's URL, a statement or a value.
        """
        if self.database is None:
            return {"state": "off"}
        degraded = bool(self._waiting) and self.failure is not None
        return {
            "state": "degraded" if degraded else "ok",
            "problem": self.failure if degraded else None,
            "waiting": len(self._waiting),
        }

    async def keep_version(self, source: FlowSource) -> None:
        """Keep a flow version the server serves (once; see :mod:`engine.records.versions`)."""
        if self.database is None:
            return
        if not self._ready and not await self._migrate():
            raise RecordsError(self.problem or "the call log is unavailable")
        if await self.run(FlowVersions(self.database).keep, source):
            log.info("flow.version_kept", flow=source.flow, version=source.version)

    async def drain(self) -> None:
        """Wait until every record so far is written (bound it with ``asyncio.timeout``)."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Finish the writes under way, stop delivering, release the database.

        Records that wait are tried for :data:`STOP_TRYING` seconds more; any still unwritten
        then are logged as lost, each by its call id.
        """
        try:
            async with asyncio.timeout(STOP_TRYING):
                await self.drain()
        except TimeoutError:
            for waiting in self._waiting:
                log.error(
                    "call.record_lost",
                    call_id=waiting.facts.call.call_id,
                    reason="the call log could not be written before the server stopped",
                )
        if self._writing is not None:
            self._writing.cancel()
            await asyncio.gather(self._writing, return_exceptions=True)
        self._stopped = True
        if self._delivering is not None and self.deliverer is not None:
            # Deliveries under way may finish (their answer is then kept); then they are cut.
            self.deliverer.stop()
            try:
                async with asyncio.timeout(self.settings.webhook_timeout + 1):
                    await asyncio.shield(self._delivering)
            except TimeoutError:
                self._delivering.cancel()
            await asyncio.gather(self._delivering, return_exceptions=True)
        if self.database is not None:
            await self.run(self.database.close)
        self._executor.shutdown(wait=False)
