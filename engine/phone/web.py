"""The server's routes for the platform: its call events, and routing its inbound calls.

``POST /webhook`` takes call events; ``POST /webhook/inbound`` answers which flow takes an
inbound call.

Both check ``X-Retell-Signature`` on the raw body before anything else: a request without a
valid signature less than five minutes old is answered 401 and read no further. Events are
queued and answered 204 at once; an inbound call is answered with its route.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from quart import Blueprint, Response, request

from .events import EventQueue, parse_event
from .routes import InboundCall, Router
from .signature import SIGNATURE_HEADER, verify

log = structlog.get_logger("dialplan.phone")


def platform_routes(key: bytes | None, events: EventQueue | None, router: Router) -> Blueprint:
    """The blueprint; ``key`` signs the platform's webhooks (``None``: every request is 401).

    ``events``: where call events go (``None`` without a call log: they are acknowledged and
    dropped, with a warning).
    """
    routes = Blueprint("platform", __name__)

    async def signed() -> Any | Response:
        """The request's JSON if it is signed; else the answer to give."""
        body = await request.get_data(cache=False)
        assert isinstance(body, bytes)  # get_data(as_text=False)
        if key is None or not verify(key, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning(
                "platform.webhook_refused",
                path=request.path,
                reason="no key configured" if key is None else "bad or stale signature",
            )
            return Response("invalid signature", 401, content_type="text/plain")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            log.warning("platform.webhook_malformed", path=request.path)
            return Response("the body is not JSON", 400, content_type="text/plain")

    async def inbound(body: Any) -> Response:
        details = body.get("call_inbound") if isinstance(body, dict) else None
        if not isinstance(details, dict):
            return Response("no call_inbound", 400, content_type="text/plain")
        call = InboundCall(
            from_number=str(details.get("from_number") or ""),
            to_number=str(details.get("to_number") or ""),
            agent_id=details.get("agent_id") if isinstance(details.get("agent_id"), str) else None,
            agent_version=(
                details["agent_version"] if isinstance(details.get("agent_version"), int) else None
            ),
        )
        route = await router.route(call)
        log.info(
            "platform.inbound",
            flow=route.flow,
            route=route.source or None,
            agent=route.agent_id,
        )
        return Response(orjson.dumps(route.answer()), 200, content_type="application/json")

    @routes.post("/webhook")
    async def webhook() -> Response:
        body = await signed()
        if isinstance(body, Response):
            return body
        if isinstance(body, dict) and body.get("event") == "call_inbound":
            return await inbound(body)  # one URL may serve both
        found = parse_event(body)
        if isinstance(found, str):
            log.warning("platform.webhook_malformed", reason=found)
            return Response(found, 400, content_type="text/plain")
        if found is None:
            log.debug("platform.event_ignored", kind=body.get("event"))
            return Response(status=204)
        if events is None:
            log.warning("platform.event_dropped", call_id=found.call_id, reason="no call log")
            return Response(status=204)
        if not events.submit(found):
            log.error("platform.event_refused", call_id=found.call_id, reason="queue full")
            return Response("busy, send again later", 503, content_type="text/plain")
        return Response(status=204)

    @routes.post("/webhook/inbound")
    async def webhook_inbound() -> Response:
        body = await signed()
        if isinstance(body, Response):
            return body
        if isinstance(body, dict) and body.get("event") not in (None, "call_inbound"):
            return Response(status=204)  # chat_inbound and the like: not ours
        return await inbound(body)

    return routes
