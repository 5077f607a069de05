"""What a server process runs for the platform: its webhook routes, the event writer, the router."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from engine.records import CallLog
from engine.settings import Settings

from .events import EventQueue, EventStore
from .routes import Router
from .web import platform_routes

log = structlog.get_logger("dialplan.phone")


class PlatformHooks:
    """``/webhook`` and ``/webhook/inbound`` of one server; :meth:`start`/:meth:`stop` bracket it.

    ``flows`` gives the project's flow names when the routing table is (re)loaded, to check
    the flows its routes name (``None``: not checked).
    """

    def __init__(
        self,
        settings: Settings,
        call_log: CallLog,
        flows: Callable[[], Iterable[str] | None] = lambda: None,
    ) -> None:
        key = settings.webhook_key
        self.key = key.get_secret_value().encode() if key else None
        self.router = Router(settings.routes_file, flows)
        self.call_log = call_log
        self.events = (
            EventQueue(
                EventStore(call_log.database, follow_ups=call_log.webhook),
                call_log.run,
                on_follow_up=call_log.wake_deliverer,
            )
            if call_log.database
            else None
        )
        self.blueprint = platform_routes(self.key, self.events, self.router)

    async def start(self) -> None:
        """Load the routing table and start writing events."""
        if self.key is None:
            # Many servers take no platform webhooks, and a newcomer can do nothing about this
            # line: it is for whoever looks for why /webhook answers 401.
            log.debug(
                "platform.webhooks_refused",
                reason="no DIALPLAN_PLATFORM_KEY (or DIALPLAN_PLATFORM_WEBHOOK_KEY): every "
                "request to /webhook is answered 401",
            )
        self.router.refresh()
        if self.events is not None:
            self.events.start()

    async def stop(self) -> None:
        """Write the events still queued, then stop."""
        if self.events is not None:
            await self.events.stop()
