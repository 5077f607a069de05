"""The call WebSocket served straight on ASGI; every other route goes through Quart.

Quart's WebSocket machinery (a request context per socket, a queue and a task between the server
and the handler, signals per frame) is made for general web apps; a voice server pays for it on
every frame of every call. So the call route is answered by :class:`CallRouter` in front of the
Quart app, and a session speaks to hypercorn's ASGI ``receive``/``send`` directly through
:class:`AsgiSocket`. Health, readiness and metrics (and anything else HTTP) stay Quart routes.

ASGI can close a WebSocket only with a close frame, and every close code the platform receives
ends the call except none at all: a connection that just ends (1006) is the one the platform
dials again. :meth:`AsgiSocket.abort` ends the connection under hypercorn, whose connection it
reaches through the ASGI ``send`` callable (a test checks this on every hypercorn upgrade).
Once accepted, text frames go straight to that connection too (:mod:`engine.server.frames`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from hypercorn.events import Closed

from .frames import FrameWriter, connection_transport, frame_writer
from .reader import FrameReader, TextHandler, frame_reader
from .sockets import SocketClosed

log = structlog.get_logger("dialplan.session")

INTERNAL_ERROR = 1011

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]  # any framework's typing of the three
CallHandler = Callable[[Scope, "AsgiSocket"], Awaitable[None]]


class AsgiSocket:
    """The session's :class:`~engine.server.session.Socket` over one ASGI WebSocket."""

    __slots__ = ("_frames", "_reader", "_receive", "_send", "scope")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self._frames: FrameWriter | None = None
        self._reader: FrameReader | None = None

    async def accept(self) -> None:
        """Complete the handshake (the server already read ``websocket.connect``)."""
        await self._send({"type": "websocket.accept"})
        self._frames = frame_writer(self._send)

    def listen(self, handler: TextHandler) -> bool:
        """Have text frames handed to ``handler`` as they are read (see :mod:`.reader`).

        ``False`` where that cannot be done: every frame then comes from :meth:`receive`.
        Frames that are not plain text (and every frame after one of those) still do.
        """
        if self._frames is None or self._reader is not None:
            return False
        self._reader = frame_reader(self._send, self._receive, handler)
        return self._reader is not None

    def unlisten(self) -> None:
        """Frames come from :meth:`receive` again."""
        if self._reader is not None:
            self._reader.stop()
            self._reader = None

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
        if self._frames is not None:
            await self._frames.send(data)
        else:
            await self._send({"type": "websocket.send", "text": data})

    def send_now(self, data: str) -> bool:
        """Write one text frame at once if the connection allows it (see :mod:`.frames`)."""
        frames = self._frames
        return frames is not None and frames.send_now(data)

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code``."""
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def abort(self) -> None:
        """End the connection without a close frame: the platform sees 1006 and dials again.

        Under hypercorn the ASGI ``send`` is its WebSocket stream's method; the stream's own
        ``send`` belongs to the HTTP/1.1 connection, whose ``send`` takes the connection's
        ``Closed`` event (and closes the TCP connection). Anywhere else the best left is 1011.
        """
        stream = getattr(self._send, "__self__", None)  # hypercorn's WSStream
        connection = getattr(getattr(stream, "send", None), "__self__", None)  # H11Protocol
        close = getattr(connection, "send", None)  # its TCP server's protocol_send
        if close is None:
            log.warning("call.abort_unsupported", send=repr(self._send))
            await self.close(INTERNAL_ERROR, "going away")
            return
        await close(Closed())

    async def drop(self) -> None:
        """End the connection at once, discarding what is unsent (the peer sees 1006).

        For a peer that reads nothing: :meth:`abort` closes the connection gracefully, which
        waits until the peer has read what was written, and it never will.
        """
        transport = connection_transport(self._send)
        if transport is None:
            await self.abort()
            return
        transport.abort()

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
