"""What a call id may be: the last segment of the platform's URL, and a call's key everywhere.

The platform appends the call id to the URL it was given, unescaped, so its ids are made of
the characters a URL path carries as they are (RFC 3986's unreserved ones). Anything else (a
NUL byte, a space, an id longer than the call log's column) is no id of the platform's: the
call could not be recorded, so it is refused before it starts.
"""

from __future__ import annotations

import re

MAX_CALL_ID = 128
"""The longest call id: well above the platform's (about 40 characters), within the call
log's column (200)."""

CALL_ID_RULE = (
    f"a call id is 1 to {MAX_CALL_ID} letters, digits, '-', '_', '.' or '~' (the last segment "
    "of the URL)"
)

_CALL_ID = re.compile(rf"[A-Za-z0-9._~-]{{1,{MAX_CALL_ID}}}")


def call_id_problem(call_id: str) -> str | None:
    """Why ``call_id`` is no call id (``None``: it is one); the message names no value."""
    if _CALL_ID.fullmatch(call_id) is None:
        return f"not a call id: {CALL_ID_RULE}"
    return None
