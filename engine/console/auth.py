"""Who may see the console: a browser signed in with the console token.

The token (``DIALPLAN_CONSOLE_TOKEN``) is given once, in a sign-in form or as
``/console?token=...``; the browser then holds a cookie with a signed, dated session value,
never the token itself: HTTP-only (scripts cannot read it), ``SameSite=Strict`` (no other site
can make the browser send it, so no other site can act as the signed-in person), limited to
``/console``, and ``Secure`` over HTTPS. The signing key is derived from the token, so every
worker and host with the same token accepts the same sessions, and a new token signs every
browser out.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import Response, redirect, request

COOKIE = "dialplan_console"
SESSION_SECONDS = 12 * 3600
"""How long a sign-in lasts."""
PATH = "/console"


class Gate:
    """Checks the token, and issues and checks the session cookie made from it."""

    def __init__(self, token: str, max_age: int = SESSION_SECONDS) -> None:
        self._digest = hashlib.sha256(token.encode()).digest()
        key = hmac.new(token.encode(), b"dialplan console session", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(key, salt="dialplan.console.session")
        self.max_age = max_age

    def token_ok(self, given: str) -> bool:
        """Whether ``given`` is the token; compared in constant time (also in its length)."""
        given_digest = hashlib.sha256(given.encode(errors="replace")).digest()
        return hmac.compare_digest(given_digest, self._digest)

    def session_ok(self, value: str | None) -> bool:
        """Whether a cookie value is a session this token signed, and not too old."""
        if not value:
            return False
        try:
            self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # also an expired one (SignatureExpired)
            return False
        return True

    def sign_in(self, response: Response) -> Response:
        """Give the browser a session."""
        response.set_cookie(
            COOKIE,
            self._serializer.dumps("signed-in"),
            max_age=self.max_age,
            path=PATH,
            httponly=True,
            samesite="Strict",
            secure=request.scheme in ("https", "wss"),
        )
        return response

    @staticmethod
    def sign_out(response: Response) -> Response:
        """Take the browser's session away."""
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="Strict")
        return response

    def signed_in(self) -> bool:
        """Whether the request comes from a signed-in browser."""
        return self.session_ok(request.cookies.get(COOKIE))


def without_token() -> str:
    """The request's path and query with the ``token`` parameter taken out."""
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return request.path + (f"?{urlencode(rest)}" if rest else "")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console page of this server, never another site."""
    if not target:
        return PATH
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PATH) or "\\" in target:
        return PATH
    return target


def same_origin() -> bool:
    """Whether a state-changing request comes from a console page (or names no origin)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def to_sign_in() -> Response:
    """A redirect to the sign-in page that comes back here afterwards."""
    target = without_token()
    response: Response = redirect(f"{PATH}/signin?{urlencode({'next': target})}", 303)  # type: ignore[assignment]
    return response
