"""Past calls from the call log: a search, its export, and one call's page.

Calls are found by flow, version, outcome, days, a phone number (from or to), a call id, words
said (in the transcript as shown, masked) and slot values; the export button serves the calls
found as the very files ``dialplan calls export`` writes (CSV or JSON Lines). Records are
shown as ``dialplan calls`` shows them: sensitive slots masked, with the caller's words that
gave them (``dialplan calls show --reveal`` is the way to see them); a search never finds a
sensitive value. A call's page has everything known of it: details, what the platform reported
(recording, disconnection, analysis, cost), how it was placed, the timed transcript, its path
on the flow's diagram, every turn, and its webhook events. The database is read on a worker
thread, never on the event loop that serves calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, Response, request

from engine.records import OUTCOMES, CallRecord, Database, Outbox, RecordsError, masked
from engine.records.export import CONTENT_TYPES, FORMATS, Format, export
from engine.records.outbox import EventStatus

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
    version: str = ""
    outcome: str = ""
    since: str = ""
    until: str = ""
    number: str = ""
    call_id: str = ""
    said: str = ""
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
        given = {name: str(args.get(name, "")).strip()[:200] for name in TEXT_FIELDS}
        search = cls(**given, limit=limit)
        if search.number and not any(c.isdigit() for c in search.number):
            problems.append(f"a phone number has digits, not {search.number!r}")
        if search.outcome and search.outcome not in OUTCOMES:
            problems.append(f"there is no outcome {search.outcome!r}")
        for label, text in (("From", search.since), ("To", search.until)):
            if text and _day(text) is None:
                problems.append(f"{label} must be a date like 2026-11-25, not {text!r}")
        return search, problems

    def query(self, limit: int | None = None) -> dict[str, Any]:
        """Keyword arguments of :meth:`engine.records.Database.calls`.

        ``limit``: the most calls (default one more than shown: that tells whether there
        are more).
        """
        since, until = _day(self.since), _day(self.until)
        return {
            "flow": self.flow or None,
            "versions": [self.version] if self.version else [],
            "outcomes": [self.outcome] if self.outcome else [],
            "since": _start_of(since) if since else None,
            "until": _start_of(until + timedelta(days=1)) if until else None,
            "number": self.number or None,
            "call_id_part": self.call_id or None,
            "said": self.said or None,
            "slot": self.slot or None,
            "slot_value": self.value or None,
            "limit": limit if limit is not None else self.limit + 1,
        }

    def fields(self) -> dict[str, str]:
        """The search's fields that are set (what a link to the same search carries)."""
        return {k: v for k, v in self.__dict__.items() if v and k != "limit"}

    def more(self) -> str:
        """The query string of the same search showing more calls."""
        return urlencode({**self.fields(), "limit": min(self.limit + PAGE, MOST)})

    def export(self, fmt: str) -> str:
        """The query string of the export of this search's calls."""
        return urlencode({**self.fields(), "format": fmt})


TEXT_FIELDS = (
    "flow",
    "version",
    "outcome",
    "since",
    "until",
    "number",
    "call_id",
    "said",
    "slot",
    "value",
)
EXPORT_MOST = 100_000
"""The most calls one export holds (the newest of the search, written oldest first)."""


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
            exports={fmt: search.export(fmt) for fmt in FORMATS},
        )

    @bp.get("/console/calls/export")
    async def export_calls() -> Response:
        search, problems = Search.from_args(request.args)
        fmt = request.args.get("format", "csv")
        if fmt not in FORMATS:
            problems.append(f"there is no export format {fmt!r} (csv or jsonl)")
        if database is None or problems:
            why = "; ".join(problems) or "no call log is kept (DIALPLAN_DATABASE_URL is empty)"
            return Response(why, 400 if problems else 404, content_type="text/plain")

        chosen: Format = "jsonl" if fmt == "jsonl" else "csv"

        def written() -> str:
            found = database.calls(**search.query(limit=EXPORT_MOST))
            return export([masked(record) for record in reversed(found)], chosen)

        try:
            body = await asyncio.to_thread(written)
        except Exception as exc:  # the database went away: say so, keep serving
            return Response(f"the call log cannot be read: {type(exc).__name__}", 503)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        headers = {"Content-Disposition": f'attachment; filename="calls-{stamp}.{fmt}"'}
        return Response(body, content_type=CONTENT_TYPES[fmt], headers=headers)

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
        deliveries = await _deliveries(database, call_id)
        flow = context.flow(record.flow)
        drawing = Drawing(problem="its flow is not loaded on this server" if record.flow else None)
        if flow is not None and record.path:
            drawing = await context.drawings.draw(
                flow, at=record.path[-1], coverage=call_path(record, flow)
            )
        webhook = bool(context.settings.webhook_url)
        return page(
            "call.html",
            call=shown,
            drawing=drawing,
            version_differs=flow is not None and flow.version != record.flow_version,
            deliveries=deliveries,
            no_deliveries=(
                "No event of this call was queued for the webhook."
                if webhook
                else "No webhook is configured (DIALPLAN_WEBHOOK_URL): nothing is sent."
            ),
        )


async def _deliveries(database: Database, call_id: str) -> list[EventStatus]:
    """The call's webhook events and where each stands (none when they cannot be read)."""
    try:
        return await asyncio.to_thread(Outbox(database).of_call, call_id)
    except Exception:  # the page is worth showing without them
        return []
