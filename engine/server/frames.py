"""Text frames written straight to the connection, under hypercorn.

Every frame a call sends through ASGI goes down hypercorn's layers: a message dict, its
WebSocket stream's checks, wsproto's frame builder (pure Python), an event for the HTTP/1.1
protocol, another for the TCP server, and a lock and a drain around one write. A call streams a
frame per model token, so that path is paid for thousands of times per call. A server-to-client
frame of an uncompressed connection is only a header and the UTF-8 text (RFC 6455 section 5.2:
no mask), so :class:`FrameWriter` writes exactly that to the connection's transport.

It is used only where it says the same bytes as hypercorn would: a connection hypercorn serves
over HTTP/1.1 whose WebSocket is open and negotiated no extension (``permessage-deflate`` would
compress frames). Anything else (another server, compression turned on) keeps the ASGI path.
Closing, handshakes and control frames stay with hypercorn, whose own writes are whole frames
too, so the two never interleave within a frame. A test checks the reach into hypercorn on
every upgrade.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

from wsproto.connection import ConnectionState

from .sockets import SocketClosed

TEXT = 0x81  # FIN + text opcode
HIGH_WATER = 64 * 1024
"""Bytes queued in the transport above which a send waits for the peer to read (a platform
that stops reading must not grow the server's memory)."""


class FrameWriter:
    """Writes text frames to one hypercorn WebSocket connection's transport."""

    __slots__ = ("_is_open", "_transport", "_writer")

    def __init__(self, writer: asyncio.StreamWriter, is_open: Callable[[], bool]) -> None:
        self._writer = writer
        self._transport = writer.transport  # a connection's for its life (a property to read)
        self._is_open = is_open

    def send_now(self, text: str) -> bool:
        """Write ``text`` as one frame if that needs no wait; ``False``: use :meth:`send`."""
        transport = self._transport
        if transport.is_closing() or transport.get_write_buffer_size() > HIGH_WATER:
            return False
        if not self._is_open():
            return False
        self._write(transport, text)
        return True

    async def send(self, text: str) -> None:
        """Send ``text`` as one frame; :class:`SocketClosed` once the connection is going."""
        transport = self._transport
        if transport.is_closing() or not self._is_open():
            raise SocketClosed(None)
        self._write(transport, text)
        if transport.get_write_buffer_size() > HIGH_WATER:
            try:
                await self._writer.drain()
            except (ConnectionError, RuntimeError):
                raise SocketClosed(None) from None

    @staticmethod
    def _write(transport: asyncio.WriteTransport, text: str) -> None:
        payload = text.encode()
        size = len(payload)
        if size < 126:
            header = bytes((TEXT, size))
        elif size < 65536:
            header = struct.pack("!BBH", TEXT, 126, size)
        else:
            header = struct.pack("!BBQ", TEXT, 127, size)
        transport.writelines((header, payload))


def _stream_writer(send: Any) -> asyncio.StreamWriter | None:
    """The TCP connection's writer under the hypercorn WebSocket whose ASGI ``send`` this is."""
    stream = getattr(send, "__self__", None)  # hypercorn's WSStream
    http = getattr(getattr(stream, "send", None), "__self__", None)  # H11Protocol
    tcp = getattr(getattr(http, "send", None), "__self__", None)  # its TCPServer
    writer = getattr(tcp, "writer", None)
    return writer if isinstance(writer, asyncio.StreamWriter) else None


def connection_transport(send: Any) -> asyncio.WriteTransport | None:
    """The transport of the hypercorn connection whose ASGI ``send`` this is.

    What :meth:`~engine.server.asgi.AsgiSocket.drop` ends at once; ``None`` elsewhere.
    """
    writer = _stream_writer(send)
    return writer.transport if writer is not None else None


def frame_writer(send: Any) -> FrameWriter | None:
    """A :class:`FrameWriter` for the accepted WebSocket whose ASGI ``send`` this is.

    ``None`` where frames must go through ASGI: not hypercorn over HTTP/1.1, or compressed.
    """
    stream = getattr(send, "__self__", None)  # hypercorn's WSStream
    connection = getattr(stream, "connection", None)  # its wsproto Connection, once accepted
    writer = _stream_writer(send)
    if connection is None or writer is None:
        return None
    extensions = getattr(getattr(connection, "_proto", None), "extensions", None)
    if not isinstance(extensions, list) or any(e.enabled() for e in extensions):
        return None  # permessage-deflate negotiated: hypercorn compresses each frame
    if getattr(connection, "state", None) is not ConnectionState.OPEN:
        return None

    def is_open() -> bool:
        return bool(connection.state is ConnectionState.OPEN)

    return FrameWriter(writer, is_open)
