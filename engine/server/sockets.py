"""The socket a session speaks through: what it must offer, the phases and close codes.

A session is written against :class:`Socket` alone, so that the ASGI adapter
(:mod:`engine.server.asgi`) and the in-process fakes of the tests drive the same code.
"""

from __future__ import annotations

import enum
from typing import Protocol

HANGUP = 1000
TAKEN_OVER = 4000  # private-use close code: a newer socket of the same call replaced this one


class SocketClosed(Exception):
    """The peer closed the socket (or the connection dropped); ``args[0]`` is its close code."""


class Socket(Protocol):
    """The part of a server WebSocket a session uses."""

    async def accept(self) -> None:
        """Complete the WebSocket handshake."""

    async def receive(self) -> str | bytes:
        """The next inbound frame; raises :class:`SocketClosed` when the peer is gone."""
        ...

    async def send(self, data: str) -> None:
        """Send one text frame."""

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code``."""

    async def abort(self) -> None:
        """Drop the connection without a close frame (the peer sees 1006)."""


class Phase(enum.Enum):
    """Where a session is in its life."""

    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
