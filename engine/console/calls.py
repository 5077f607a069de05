"""Past calls from the call log: a search, and one call's page with its path on the flow.

Records are shown as ``dialplan calls`` shows them: sensitive slots masked, with the caller's
words that gave them (``dialplan calls show --reveal`` is the way to see them). The database is
read on a worker thread, never on the event loop that serves calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, Response, request

from engine.records import OUTCOMES, CallRecord, RecordsError, masked

from .context import ConsoleContext
from .drawings import Drawing, call_path
from .render import page

PAGE = 50
"""Calls per page of results."""
MOST = 1000
"""The most calls one search shows."""


@dataclass(frozen=True)
class Search:
    """A search of the call log, as the form gives it."""

    flow: str = ""
    outcome: str = ""
    since: str = ""
    until: str = ""
    slot: str = ""
    value: str = ""
    limit: int = PAGE

    @classmethod
    def from_args(cls, args: Any) -> tuple[Search, list[str]]:
        """The search in the query string, and what is wrong with it."""
        problems = []
        try:
            limit = min(max(int(args.get("limit", PAGE)), 1), MOST)
        except ValueError:
            limit = PAGE
        search = cls(
            flow=args.get("flow", "").strip(),
            outcome=args.get("outcome", "").strip(),
            since=args.get("since", "").strip(),
            until=args.get("until", "").strip(),
            slot=args.get("slot", "").strip(),
            value=args.get("value", "").strip(),
            limit=limit,
        )
        if search.outcome and search.outcome not in OUTCOMES:
            problems.append(f"there is no outcome {search.outcome!r}")
        for label, text in (("From", search.since), ("To", search.until)):
            if text and _day(text) is None:
                problems.append(f"{label} must be a date like 2026-11-25, not {text!r}")
        return search, problems

    def query(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`engine.records.Database.calls`."""
        since, until = _day(self.since), _day(self.until)
        return {
            "flow": self.flow or None,
            "outcomes": [self.outcome] if self.outcome else [],
            "since": _start_of(since) if since else None,
            "until": _start_of(until + timedelta(days=1)) if until else None,
            "slot": self.slot or None,
            "slot_value": self.value or None,
            "limit": self.limit + 1,  # one more than shown: tells whether there are more
        }

    def more(self) -> str:
        """The query string of the same search showing more calls."""
        fields = {k: v for k, v in self.__dict__.items() if v and k != "limit"}
        return urlencode({**fields, "limit": min(self.limit + PAGE, MOST)})


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone()  # the server's local midnight


def register(bp: Blueprint, context: ConsoleContext) -> None:
    """Add the search of past calls and the page of one call."""
    database = context.database

    @bp.get("/console/calls")
    async def past_calls() -> Response:
        search, problems = Search.from_args(request.args)
        found: list[CallRecord] = []
        unavailable = None
        if database is None:
            unavailable = "No call log is kept: DIALPLAN_DATABASE_URL is empty."
        elif not problems:
            try:
                found = await asyncio.to_thread(database.calls, **search.query())
            except RecordsError as exc:
                unavailable = f"The call log cannot be read: {exc}"
            except Exception as exc:  # the database went away: say so, keep serving
                unavailable = f"The call log cannot be read right now ({type(exc).__name__})."
        more = len(found) > search.limit
        flows = sorted({*context.flow_names(), *([search.flow] if search.flow else [])})
        return page(
            "calls.html",
            search=search,
            problems=problems,
            unavailable=unavailable,
            calls=[masked(record) for record in found[: search.limit]],
            more=search.more() if more else None,
            flows=flows,
            outcomes=OUTCOMES,
            searched=bool(request.args),
        )

    @bp.get("/console/calls/<call_id>")
    async def past_call(call_id: str) -> Response:
        if database is None:
            return page("missing.html", 404, what="call", name=call_id)
        try:
            record = await asyncio.to_thread(database.call, call_id)
        except Exception as exc:  # the database went away: say so, keep serving
            return page("missing.html", 503, what="call", name=call_id, error=str(exc))
        if record is None:
            return page("missing.html", 404, what="call", name=call_id)
        shown = masked(record)
        flow = context.flow(record.flow)
        drawing = Drawing(problem="its flow is not loaded on this server" if record.flow else None)
        if flow is not None and record.path:
            drawing = await context.drawings.draw(
                flow, at=record.path[-1], coverage=call_path(record, flow)
            )
        return page(
            "call.html",
            call=shown,
            drawing=drawing,
            version_differs=flow is not None and flow.version != record.flow_version,
        )
