"""The call WebSocket served straight on ASGI; every other route goes through Quart.

Quart's WebSocket machinery (a request context per socket, a queue and a task between the server
and the handler, signals per frame) is made for general web apps; a voice server pays for it on
every frame of every call. So the call route is answered by :class:`CallRouter` in front of the
Quart app, and a session speaks to hypercorn's ASGI ``receive``/``send`` directly through
:class:`AsgiSocket`. Health, readiness and metrics (and anything else HTTP) stay Quart routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .session import SocketClosed

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]  # any framework's typing of the three
CallHandler = Callable[[Scope, "AsgiSocket"], Awaitable[None]]


class AsgiSocket:
    """The session's :class:`~engine.server.session.Socket` over one ASGI WebSocket."""

    __slots__ = ("_receive", "_send", "scope")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send

    async def accept(self) -> None:
        """Complete the handshake (the server already read ``websocket.connect``)."""
        await self._send({"type": "websocket.accept"})

    async def receive(self) -> str | bytes:
        """The next frame; :class:`SocketClosed` once the peer is gone."""
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                return text if text is not None else bytes(message.get("bytes") or b"")
            if kind == "websocket.disconnect":
                raise SocketClosed(message.get("code"))

    async def send(self, data: str) -> None:
        """Send one text frame."""
        await self._send({"type": "websocket.send", "text": data})

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code``."""
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def refuse(self, status: int, text: str) -> None:
        """Answer the handshake with an HTTP error instead of accepting it."""
        if "websocket.http.response" in self.scope.get("extensions", {}):
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            await self._send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await self._send({"type": "websocket.http.response.body", "body": text.encode()})
        else:  # servers without the extension answer a close before accept with 403
            await self._send({"type": "websocket.close", "code": 1008})


class CallRouter:
    """ASGI middleware: call WebSockets under ``prefix`` to ``handle``, the rest to ``app``."""

    def __init__(self, app: ASGIApp, prefix: str, handle: CallHandler) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/"
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one ASGI connection."""
        if scope["type"] == "websocket" and scope["path"].startswith(self.prefix):
            message = await receive()
            if message["type"] != "websocket.connect":  # the peer left before the handshake
                return
            await self.handle(scope, AsgiSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)
