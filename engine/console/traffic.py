"""A flow's live traffic for its console page: its versions side by side, and where callers drop.

The page's "Versions" table is ``dialplan calls compare`` and its "Where callers drop" table
and drawing are ``dialplan calls funnel`` (:mod:`engine.insights`), over the flow's calls of
the last :data:`DAYS` days (at most :data:`MOST`, the newest). The call log is read on a
worker thread, never on the event loop that serves calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.flow import CompiledFlow
from engine.insights.compare import Comparison, compare
from engine.insights.funnel import Funnel, depths, funnel
from engine.records import CallRecord, Database, RecordsError

DAYS = 30
MOST = 5000
"""The most calls one page reads (the newest)."""


@dataclass(frozen=True)
class FlowTraffic:
    """What a flow's page shows of its calls."""

    days: int = DAYS
    calls: int = 0
    limited: bool = False
    """More calls than :data:`MOST` in the window: the newest were read."""
    comparison: Comparison | None = None
    funnel: Funnel | None = None
    versions: list[str] = field(default_factory=list)
    """Versions that served calls, newest first (the funnel's choices)."""
    problem: str | None = None


async def flow_traffic(
    database: Database | None,
    flow: CompiledFlow | None,
    name: str,
    version: str | None,
) -> FlowTraffic:
    """The traffic of flow ``name`` (the funnel of ``version``, default the newest one)."""
    if database is None:
        return FlowTraffic(problem="no call log is kept (DIALPLAN_DATABASE_URL is empty)")
    since = datetime.now(UTC) - timedelta(days=DAYS)
    try:
        records: list[CallRecord] = await asyncio.to_thread(
            database.calls, flow=name, since=since, limit=MOST
        )
    except RecordsError as exc:
        return FlowTraffic(problem=str(exc))
    versions = list(dict.fromkeys(r.flow_version or "?" for r in records))
    chosen = version if version in versions else (versions[0] if versions else None)
    order = depths(flow) if flow is not None else None
    found = funnel(name, records, version=chosen, order=order) if chosen else None
    return FlowTraffic(
        calls=len(records),
        limited=len(records) >= MOST,
        comparison=compare(name, records) if records else None,
        funnel=found,
        versions=versions,
    )
