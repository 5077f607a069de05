"""Who may open a call: checks made before a call's socket is accepted, and at start.

The platform adds nothing to its connection but the URL it was given (no header, no
signature), so what keeps strangers out is the secret path segment, the shape of what the URL
carries, and the difference between the platform (a server, which sends no ``Origin``) and a
web page on another site (whose browser always does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from engine.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})


def unprotected(settings: Settings) -> bool:
    """Whether the server takes calls from other machines with no secret in their path.

    Anyone who reaches the port and finds the URL can then drive calls (and their actions).
    """
    return settings.secret is None and not loopback(settings.host)


def loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``""`` and ``0.0.0.0`` are not)."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may well be reachable from elsewhere


def foreign_page(headers: Iterable[tuple[bytes, bytes]], console: bool) -> str | None:
    """The ``Origin`` of a web page that may not open a call (``None``: the request may).

    The platform is a server and sends no ``Origin``; a browser always sends it with a
    WebSocket. Without a secret, any page on any site could otherwise drive a call from a
    visitor's browser (one on the operator's own network, too). The one page allowed is the
    console's try-a-call page of this very server: with the console on, a page whose origin is
    this server's own host.
    """
    origin = host = None
    for name, value in headers:
        if name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"host":
            host = value.decode("latin-1")
    if origin is None:
        return None
    if console and host is not None and urlsplit(origin).netloc.lower() == host.lower():
        return None
    return origin
