"""Try a call: the browser plays the voice platform and the person at the keyboard the caller.

The page's script opens a WebSocket to the server's own call route and speaks the platform's
protocol there (call details after ``config``, the begin message, ``update_only`` and
``response_required`` with the growing transcript, keepalives), so a call tried here runs
exactly as a real one: the same session, flow, actions (for real) and call log. The call URL
comes from the server to the signed-in page only, with the path secret when one is set; it is
never logged. After each answer the page shows the call's state and slots from the live feed.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from quart import Blueprint, Response, jsonify, request

from .context import ConsoleContext
from .render import page

CALL_PREFIX = "console-"
"""Call ids of tried calls start so, to tell them apart in the call log."""


def register(bp: Blueprint, context: ConsoleContext) -> None:
    """Add the try-a-call page and the call URL it asks for."""
    settings = context.settings

    @bp.get("/console/try")
    async def try_page() -> Response:
        names = context.flow_names()
        agent = context.flow_agent()
        chosen = request.args.get("flow") or None
        if chosen is None and agent is not None and agent.default_flow in names:
            chosen = agent.default_flow
        if chosen is None and len(names) == 1:
            chosen = names[0]
        unknown = chosen is not None and agent is not None and chosen not in names
        return page(
            "try.html",
            404 if unknown else 200,
            flows=names,
            chosen=None if unknown else chosen,
            unknown=chosen if unknown else None,
            prompt_agent=agent is None,
        )

    @bp.post("/console/api/try")
    async def start_call() -> Response:
        body = await request.get_json(silent=True)
        flow = body.get("flow") if isinstance(body, dict) else None
        if context.flow_agent() is not None:
            if not isinstance(flow, str) or context.flow(flow) is None:
                return Response("no such flow", 404, content_type="text/plain")
        else:
            flow = None  # the single-prompt agent takes every call
        call_id = CALL_PREFIX + secrets.token_hex(6)
        segments = []
        if settings.secret is not None:
            segments.append(settings.secret.get_secret_value())
        if flow:
            segments.append(flow)
        path = "/".join([settings.path_prefix, *(quote(s, safe="") for s in segments), call_id])
        return jsonify({"call_id": call_id, "path": path, "flow": flow})
