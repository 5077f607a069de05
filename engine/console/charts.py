"""Charts of the calls: per hour or day, by outcome and flow; latency; the model; transfers.

One page (``/console/charts``) over a window (the last 24 hours by hour, or the last 7 or 30
days by day), for every flow or one: calls by outcome, calls by flow, the median and 95th
percentile of the caller's wait for the agent's first words, the share of answered turns that
needed the model, and transferred calls by why they were transferred. The numbers are counted
here (:mod:`engine.insights.charts`) and drawn in the browser by Chart.js, vendored in the
package (``static/chart.umd.min.js``); each chart has its numbers as a table beside it too.
The call log is read on a worker thread, never on the event loop that serves calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from quart import Blueprint, Response, request

from engine.insights.charts import Charts, Step, charts
from engine.records import OUTCOMES

from .context import ConsoleContext
from .render import page


@dataclass(frozen=True)
class Window:
    """A choice of the page: how far back, and per hour or per day."""

    key: str
    label: str
    span: timedelta
    step: Step


WINDOWS = {
    window.key: window
    for window in (
        Window("24h", "the last 24 hours, by hour", timedelta(hours=24), "hour"),
        Window("7d", "the last 7 days, by day", timedelta(days=7), "day"),
        Window("30d", "the last 30 days, by day", timedelta(days=30), "day"),
    )
}
MOST = 200_000
"""The most calls one page counts (the newest of the window)."""


def register(bp: Blueprint, context: ConsoleContext) -> None:
    """Add the charts page."""
    database = context.database

    @bp.get("/console/charts")
    async def charts_page() -> Response:
        window = WINDOWS.get(request.args.get("window", "24h"), WINDOWS["24h"])
        flow = request.args.get("flow", "").strip() or None
        until = datetime.now().astimezone()
        since = until - window.span
        if window.step == "day":  # whole days: today and the days before it
            since = (until - window.span + timedelta(days=1)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
        drawn: Charts | None = None
        problem = None
        limited = False
        if database is None:
            problem = "No call log is kept: DIALPLAN_DATABASE_URL is empty."
        else:
            try:
                rows = await asyncio.to_thread(
                    database.figures, since=since, until=until, flow=flow, limit=MOST
                )
            except Exception as exc:  # the database went away: say so, keep serving
                problem = f"The call log cannot be read right now ({type(exc).__name__})."
            else:
                limited = len(rows) >= MOST
                drawn = charts(rows, OUTCOMES, since=since, until=until, step=window.step)
        flows = sorted({*context.flow_names(), *([flow] if flow else [])})
        return page(
            "charts.html",
            window=window,
            windows=WINDOWS.values(),
            flow=flow,
            flows=flows,
            charts=drawn,
            # In a <script> element: no "<" may end it early (a flow's name, a guard's text).
            data=orjson.dumps(drawn.to_json()).decode().replace("<", "\\u003c") if drawn else "{}",
            problem=problem,
            limited=limited,
            most=MOST,
        )
