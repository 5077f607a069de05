"""The console's routes as one Quart blueprint, mounted by the server when a token is set.

Every route lives under ``/console``. Static files (a stylesheet and a script, shipped in the
package, nothing downloaded) need no sign-in; everything else does: a page without a session
redirects to the sign-in page, anything under ``/console/api/`` answers 401. Every answer
carries headers that keep it out of caches, out of frames and away from other sites' scripts.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from importlib.resources import files as package_files

import structlog
from quart import Blueprint, Response, redirect, request

from . import calls, charts, flows, live, trying
from .auth import safe_next, same_origin, to_sign_in, without_token
from .context import ConsoleContext
from .render import page
from .throttle import SignInThrottle

log = structlog.get_logger("dialplan.console")

SECURITY_HEADERS = {
    # Scripts and styles only from the console's own files: a value that slipped through as
    # markup still could not run. The try-a-call page speaks to the server's own WebSocket.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        # A call's recording plays from the platform's storage, over HTTPS only.
        "media-src 'self' https:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # POSTs keep their Origin, other sites get no URL
}


def console_blueprint(context: ConsoleContext) -> Blueprint:
    """The console, ready to be registered on the server's app."""
    bp = Blueprint("console", __name__)
    gate = context.gate
    files = _static_files()
    throttle = SignInThrottle()

    async def sign_in_with(given: str, target: str) -> Response:
        """Sign in with ``given``, or answer why not.

        Each failure is logged and slowed per client address (:mod:`.throttle`; the wait never
        blocks a call). The token given is never shown or logged.
        """
        client = request.remote_addr or "unknown"
        wait = throttle.busy(client)
        if wait > 0:  # guessing in parallel: one guess at a time per address
            log.warning("console.sign_in_refused", client=client, wait_s=round(wait, 1))
            retry = {"Retry-After": str(math.ceil(wait))}
            text = "too many failed sign-ins: try again later"
            return Response(text, 429, content_type="text/plain", headers=retry)
        if gate.token_ok(given):
            throttle.succeeded(client)
            return gate.sign_in(redirect(target, 303))  # type: ignore[arg-type]
        failures, delay = throttle.failed(client)
        log.warning("console.sign_in_failed", client=client, failures=failures, wait_s=delay)
        await asyncio.sleep(delay)
        return page("signin.html", 401, error=True, next=target)

    @bp.before_request
    async def guard() -> Response | None:
        refused = await refusal()
        if refused is not None and request.method not in ("GET", "HEAD"):
            # Read what the refused request sent: a connection whose request body is unread
            # when the answer goes out is closed by the server, and a client that reuses it
            # for its next request finds it gone.
            await request.get_data()
        return refused

    async def refusal() -> Response | None:
        if request.endpoint in ("console.static", "console.sign_in", "console.sign_in_form"):
            return None
        if request.method == "POST" and not same_origin():
            return Response("refused: another site's request", 403, content_type="text/plain")
        if "token" in request.args:
            # `/console?token=...`: sign in, then drop the token from the address bar (and
            # from the browser's history) with a redirect.
            return await sign_in_with(request.args["token"], without_token())
        if gate.signed_in():
            return None
        if request.path.startswith("/console/api/"):
            return Response("sign in to the console first", 401, content_type="text/plain")
        return to_sign_in()

    @bp.after_request
    async def headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if request.endpoint != "console.static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @bp.get("/console/static/<name>")
    async def static(name: str) -> Response:
        # A few files, read once: served from memory, revalidated by their digest.
        found = files.get(name)
        if found is None:
            return Response("not found", 404, content_type="text/plain")
        body, content_type, etag = found
        if request.headers.get("If-None-Match") == etag:
            return Response("", 304, headers={"ETag": etag})
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        return Response(body, content_type=content_type, headers=headers)

    @bp.get("/console/signin")
    async def sign_in_form() -> Response:
        if gate.signed_in():
            return redirect(safe_next(request.args.get("next")), 303)  # type: ignore[return-value]
        return page("signin.html", error=False, next=safe_next(request.args.get("next")))

    @bp.post("/console/signin")
    async def sign_in() -> Response:
        if not same_origin():
            return Response("refused: another site's request", 403, content_type="text/plain")
        form = await request.form
        return await sign_in_with(form.get("token", ""), safe_next(form.get("next")))

    @bp.post("/console/signout")
    async def sign_out() -> Response:
        return gate.sign_out(redirect("/console/signin", 303))  # type: ignore[arg-type]

    live.register(bp, context)
    calls.register(bp, context)
    charts.register(bp, context)
    flows.register(bp, context)
    trying.register(bp, context)
    return bp


CONTENT_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def _static_files() -> dict[str, tuple[bytes, str, str]]:
    """The console's stylesheet and scripts: body, content type and ETag by file name."""
    found = {}
    for item in package_files("engine.console").joinpath("static").iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if suffix in CONTENT_TYPES:
            body = item.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            found[item.name] = (body, CONTENT_TYPES[suffix], etag)
    return found
