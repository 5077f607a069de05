"""Quart's WebSocket wrappers minus two per-frame costs that a voice server pays on every token.

``quart.wrappers.Websocket.send`` yields to the event loop before every frame (a guard for
naive tight loops that we do not have: one writer task per socket sends everything), and the
ASGI connection fires the ``websocket_sent`` signal after every frame (we connect nothing to
it). Together they roughly double the CPU of sending a frame; these subclasses skip both and
keep everything else Quart does.
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


class DirectASGIWebsocketConnection(ASGIWebsocketConnection):
    """An ASGI websocket connection that does not fire a signal per frame sent."""

    async def send_data(self, send: Any, data: str | bytes) -> None:
        """Send one text (or bytes) frame."""
        if isinstance(data, str):
            await send({"type": "websocket.send", "bytes": None, "text": data})
        else:
            await send({"type": "websocket.send", "bytes": data, "text": None})
