"""Quart's WebSocket wrappers minus two per-frame costs that a voice server pays on every token.

``quart.wrappers.Websocket.send`` yields to the event loop before every frame (a guard for
naive tight loops that we do not have: one writer task per socket sends everything), and the
ASGI connection fires the ``websocket_sent`` / ``websocket_received`` signals for every frame
(we connect nothing to them). Both cost CPU on every frame (measured in bench/README.md); these
subclasses skip both and keep everything else Quart does.
"""

from __future__ import annotations

from typing import Any

from quart.asgi import ASGIWebsocketConnection
from quart.wrappers import Websocket


class DirectWebsocket(Websocket):
    """A Quart websocket whose ``send`` goes straight to the ASGI send callable."""

    async def send(self, data: str | bytes) -> None:
        """Send one frame; the session has accepted the socket before its first send."""
        await self._send(data)

    async def receive(self) -> str | bytes:
        """The next frame; the session has accepted the socket before its first read."""
        data: str | bytes = await self._receive()
        return data


class DirectASGIWebsocketConnection(ASGIWebsocketConnection):
    """An ASGI websocket connection that fires no signal per frame sent or received."""

    async def handle_messages(self, receive: Any) -> None:
        """Queue inbound frames for the handler until the peer disconnects."""
        queue = self.queue
        while True:
            event = await receive()
            if event["type"] == "websocket.receive":
                queue.put_nowait(event.get("bytes") or event["text"])
            elif event["type"] == "websocket.disconnect":
                return

    async def send_data(self, send: Any, data: str | bytes) -> None:
        """Send one text (or bytes) frame."""
        if isinstance(data, str):
            await send({"type": "websocket.send", "bytes": None, "text": data})
        else:
            await send({"type": "websocket.send", "bytes": data, "text": None})
