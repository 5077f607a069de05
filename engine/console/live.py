"""Live calls: every call in progress, updated as its turns happen (server-sent events).

The page is rendered whole on the server; then one event stream sends each call again,
rendered by the same template, whenever the live feed says it changed. The stream first says
which calls are in progress (so a page that was away learns which of its calls ended), then
every call in progress, then each change. A quiet stream sends a comment now and then, so
proxies keep it open; the browser reconnects by itself when it drops.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator

import orjson
from quart import Blueprint, Response, request

from .context import ConsoleContext
from .feed import CallSnapshot
from .render import fragment, page

KEEPALIVE = 15.0
"""Seconds between comments on a quiet stream."""
RETRY_MS = 2000
"""How soon a browser reconnects a dropped stream."""

STATUS_LABELS = {"live": "in progress", "reconnecting": "reconnecting", "ended": "ended"}


class Cards:
    """Calls rendered as the live page shows them, the newest ``size`` kept.

    A change is rendered once, however many pages watch it.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, float, str, bool], str] = OrderedDict()

    def render(self, call: CallSnapshot, *, compact: bool = False) -> str:
        """One call's card (``compact``: state and slots, no transcript)."""
        key = (call.call_id, call.updated_at, call.status, compact)
        html = self._kept.get(key)
        if html is None:
            html = fragment("_call.html", call=call, labels=STATUS_LABELS, compact=compact)
            self._kept[key] = html
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return html


def event(name: str, data: object) -> bytes:
    """One server-sent event (JSON data on one line)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def register(bp: Blueprint, context: ConsoleContext) -> None:
    """Add the live page, its event stream and single call cards."""
    feed = context.feed
    cards = Cards()

    def call_event(call: CallSnapshot, *, replay: bool = False) -> bytes:
        """A call's card; ``replay``: the page may have it already (the stream started again)."""
        data = {"call_id": call.call_id, "status": call.status, "state": call.state}
        return event("call", {**data, "replay": replay, "html": cards.render(call)})

    @bp.get("/console")
    async def live_page() -> Response:
        calls = await feed.current()
        return page("live.html", calls=calls, cards=[cards.render(call) for call in calls])

    @bp.get("/console/api/live")
    async def live_events() -> Response:
        async def stream() -> AsyncIterator[bytes]:
            # Subscribed before the calls in progress are read, so no change falls between.
            subscription = feed.subscribe()
            try:
                yield f"retry: {RETRY_MS}\n\n".encode()
                calls = await feed.current()
                yield event("calls", {"live": [call.call_id for call in calls]})
                for call in calls:
                    yield call_event(call, replay=True)
                while True:
                    try:
                        changed = await subscription.next(KEEPALIVE)
                    except EOFError:  # the server stops
                        return
                    yield b": still here\n\n" if changed is None else call_event(changed)
            finally:
                subscription.close()

        response = Response(stream(), content_type="text/event-stream")
        response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
        response.timeout = None  # a stream for as long as the page is open
        return response

    @bp.get("/console/api/live/<call_id>")
    async def live_card(call_id: str) -> Response:
        call = await feed.get(call_id)
        if call is None:
            return Response("no such call in progress", 404, content_type="text/plain")
        compact = request.args.get("view") == "panel"  # state and slots, no transcript
        html = cards.render(call, compact=compact)
        return Response(html, content_type="text/html; charset=utf-8")
