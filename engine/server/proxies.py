"""What a request looked like before the proxies in front of the server: its client, scheme, host.

Behind the TLS proxy the docs recommend, every request reaches dialplan over plain HTTP from
the proxy's address: the console would never mark its cookie ``Secure``, and every browser
would share the proxy's address. The proxy says what it saw in ``X-Forwarded-For``,
``X-Forwarded-Proto`` and ``X-Forwarded-Host``; anyone can send those headers, so they are
believed only from the addresses in ``DIALPLAN_TRUSTED_PROXIES`` (nothing is believed without
it), the way werkzeug's and hypercorn's ``ProxyFix`` believe a fixed number of hops:

* the client is the right-most ``X-Forwarded-For`` address that is not itself a trusted proxy
  (each proxy appends the address it was reached from, so everything left of the last
  untrusted one may be made up);
* the scheme and the host are the right-most ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` value:
  the one the nearest proxy, which saw the request arrive, set or appended.

:class:`ForwardedHeaders` rewrites the ASGI scope (``client``, ``scheme`` and the ``host``
header) before anything else reads it, for HTTP requests and call WebSockets alike.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from .asgi import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_SECURE = {"http": "https", "websocket": "wss"}
_PLAIN = {"http": "http", "websocket": "ws"}


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """The trusted proxies' networks (an address is a network of one)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


class ForwardedHeaders:
    """ASGI middleware: a request's client, scheme and host as a trusted proxy saw them."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.trusted = networks(trusted)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the scope of a request that comes from a trusted proxy, then pass it on."""
        if self.trusted and scope["type"] in _SECURE:
            client = scope.get("client")
            if client and self.trusts(str(client[0])):
                scope = self.seen_by_proxy(scope)
        await self.app(scope, receive, send)

    def seen_by_proxy(self, scope: Scope) -> Scope:
        """A copy of ``scope`` with what the proxies said about the original request."""
        forwarded = _values(scope, b"x-forwarded-for")
        proto = _values(scope, b"x-forwarded-proto")
        host = _values(scope, b"x-forwarded-host")
        scope = dict(scope)
        if forwarded:
            client = next((a for a in reversed(forwarded) if not self.trusts(a)), forwarded[0])
            scope["client"] = (client.strip("[]"), 0)
        if proto and proto[-1].lower() in ("https", "http"):
            kind = scope["type"]
            scope["scheme"] = (_SECURE if proto[-1].lower() == "https" else _PLAIN)[kind]
        if host:
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope["headers"] = [*headers, (b"host", host[-1].encode("latin-1"))]
        return scope


def _values(scope: Scope, name: bytes) -> list[str]:
    """Every comma-separated value of header ``name``, over all its lines, in order."""
    values: list[str] = []
    headers: Any = scope.get("headers") or ()
    for key, value in headers:
        if key.lower() == name:
            values += [part.strip() for part in value.decode("latin-1").split(",") if part.strip()]
    return values
