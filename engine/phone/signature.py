"""The platform's webhook signature: ``X-Retell-Signature: v=<unix ms>,d=<hex>``.

``d`` is HMAC-SHA256, keyed with the platform's API key, of the raw request body followed by
the decimal timestamp ``v`` (no separator). A request is genuine when its digest matches (in
constant time) and ``v`` is within five minutes of now: an old request replayed is refused.
The body is checked exactly as it arrived, never re-encoded from parsed JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

SIGNATURE_HEADER = "X-Retell-Signature"
TOLERANCE_MS = 5 * 60 * 1000

_HEADER = re.compile(r"v=(\d{1,16}),d=([0-9a-f]{64})")


def _digest(key: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(key, body + str(timestamp).encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, body: bytes, timestamp_ms: int | None = None) -> str:
    """The header value signing ``body`` at ``timestamp_ms`` (default: now)."""
    at = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    return f"v={at},d={_digest(key, body, at)}"


def verify(
    key: bytes,
    body: bytes,
    header: str | None,
    *,
    now_ms: int | None = None,
    tolerance_ms: int = TOLERANCE_MS,
) -> bool:
    """Whether ``header`` signs ``body`` with ``key`` within ``tolerance_ms`` of now."""
    match = _HEADER.fullmatch(header or "")
    if match is None or not key:
        return False
    sent = int(match.group(1))
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    if abs(now - sent) > tolerance_ms:
        return False
    return hmac.compare_digest(_digest(key, body, sent), match.group(2))
