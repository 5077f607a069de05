"""The call log as the server uses it: records written off the event loop, webhooks sent.

Database work runs on one thread of its own, so no call ever waits for it (and SQLite sees
one writer per process). A record is built and written when its call ends or is transferred;
the webhook events it causes are written in the same transaction and a background
:class:`~engine.records.webhook.Deliverer` sends them. Without a database URL nothing is
kept; without a webhook URL nothing is queued.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from engine.settings import Settings

from .database import Database, RecordsError
from .model import CallFacts, build_record
from .outbox import Outbox
from .versions import FlowVersions

if TYPE_CHECKING:
    from engine.flow.source import FlowSource

    from .webhook import Deliverer

log = structlog.get_logger("dialplan.records")

T = TypeVar("T")

CALL_ENDED = "call.ended"
CALL_TRANSFERRED = "call.transferred"


class CallLog:
    """One server process's call log; :meth:`start` and :meth:`stop` bracket its serving."""

    def __init__(self, settings: Settings) -> None:
        self.database = Database(settings.database_url) if settings.database_url else None
        self.outbox = Outbox(self.database) if self.database else None
        self.settings = settings
        self.problem: str | None = None
        """Why records cannot be written right now (shown by ``/readyz``)."""
        self._ready = False
        self._stopped = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dialplan-records")
        self._writes: set[asyncio.Task[None]] = set()
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
            self.problem = str(exc)
            log.error("records.unavailable", error=str(exc))
            return False
        self._ready, self.problem = True, None
        self._start_delivering()  # pending events from before a restart go out now
        return True

    def write(self, facts: CallFacts, event: str = CALL_ENDED) -> None:
        """Write the record of a call (and queue its webhook ``event``) in the background."""
        if self.database is None:
            return
        if self._stopped:
            log.error("call.record_lost", call_id=facts.call.call_id, reason="server stopped")
            return
        task = asyncio.create_task(self._write(facts, (event,) if self.webhook else ()))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, facts: CallFacts, events: Sequence[str]) -> None:
        assert self.database is not None
        call_id = facts.call.call_id
        if not self._ready and not await self._migrate():
            log.error("call.record_lost", call_id=call_id, reason="call log unavailable")
            return
        try:
            record = await self.run(build_record, facts)
            await self.run(self.database.save, record, events)
        except Exception as exc:  # the database went away, a disk filled up...
            # The engine hides statement parameters, so the message holds no call data.
            self.problem = f"cannot write to the call log at {self.database.where}: {exc}"
            log.error("call.record_lost", call_id=call_id, error=str(exc))
            return
        self.problem = None
        log.info("call.recorded", call_id=call_id, outcome=record.outcome, events=list(events))
        if events and self.deliverer is not None:
            self.deliverer.wake()

    async def keep_version(self, source: FlowSource) -> None:
        """Keep a flow version the server serves (once; see :mod:`engine.records.versions`)."""
        if self.database is None:
            return
        if not self._ready and not await self._migrate():
            raise RecordsError(self.problem or "the call log is unavailable")
        if await self.run(FlowVersions(self.database).keep, source):
            log.info("flow.version_kept", flow=source.flow, version=source.version)

    async def drain(self) -> None:
        """Wait for the records being written now."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def stop(self) -> None:
        """Finish the writes under way, stop delivering, release the database."""
        await self.drain()
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
