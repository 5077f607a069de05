"""Text frames read straight from the connection, under hypercorn.

Every frame the platform sends goes up hypercorn's layers before a session sees it: the HTTP/1.1
protocol's pass-through buffer, the WebSocket stream, wsproto's frame parser (pure Python:
header, unmasking in four strided passes, an incremental UTF-8 decoder, a generator of events),
a buffer for the message, an ASGI message dict, and a queue to the application's task, which
then has to be woken. A call hears a keepalive every 2 s and its whole transcript several times
a turn, so that path is most of what an idle call costs.

A client's text frame that is whole and alone (FIN set, no fragments, masked, no extension bits,
within the size limit) is only a header, a mask and UTF-8 text (RFC 6455 section 5.2), so
:class:`FrameReader`, standing in for the connection's protocol in hypercorn's TCP server, cuts
the bytes it reads into frames, unmasks such a frame in one integer XOR and hands its text to
the session at once, in the task that read it. Every other frame goes the way it always did,
whole, and in order: a ping, a pong or a close frame to hypercorn and wsproto (which answer
them); anything else (a binary frame, a fragment, bad UTF-8, a frame above the size limit) is
handed on with everything after it, and the connection stays on hypercorn's path from there,
so nothing hypercorn would say about it changes (1007, 1009, 1002...).

It is used only where hypercorn serves the socket over HTTP/1.1 without an extension, and is
put in place only while nothing is half-read or waiting in hypercorn's queue, so the two paths
never share a frame. A test checks the reach into hypercorn on every upgrade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from hypercorn.events import RawData

log = structlog.get_logger("dialplan.session")

FIN_TEXT = 0x81
"""First byte of a whole text frame (FIN, no extension bits, opcode 1)."""
MASKED = 0x80
PING, PONG = 0x9, 0xA
_EXTENDED = {126: 2, 127: 8}

TextHandler = Callable[[str], None]


class FrameReader:
    """A hypercorn connection's protocol with whole text frames taken out for ``handler``."""

    __slots__ = ("_handler", "_inner", "_max", "_need", "_pending", "_tcp", "active")

    def __init__(self, tcp: Any, inner: Any, handler: TextHandler, max_size: int) -> None:
        self._tcp = tcp
        self._inner = inner
        self._handler = handler
        self._max = max_size
        self._pending = bytearray()
        self._need = 2  # bytes needed before the next frame can be taken
        self.active = True
        """Frames are read here; once false, everything goes to hypercorn as before."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # anything else hypercorn asks of its protocol

    async def handle(self, event: Any) -> None:
        """What hypercorn's TCP server hands its protocol: bytes read, or the connection's end."""
        if not self.active or type(event) is not RawData:
            if self._pending:  # a frame begun here ends on hypercorn's path
                rest, self._pending = bytes(self._pending), bytearray()
                self.stop()
                await self._inner.handle(RawData(rest))
            await self._inner.handle(event)
            return
        pending = self._pending
        pending += event.data
        if len(pending) < self._need:
            return
        await self._frames(pending)

    async def _frames(self, data: bytearray) -> None:
        size = len(data)
        at = 0
        while self.active:
            if size - at < 2:
                self._need = 2
                break
            first, second = data[at], data[at + 1]
            length = second & 0x7F
            head = at + 2
            extended = _EXTENDED.get(length, 0)  # bytes of a longer length that follow
            if extended:
                if size - head < extended:
                    self._need = 2 + extended
                    break
                length = int.from_bytes(data[head : head + extended], "big")
                head += extended
            masked = second & MASKED
            end = head + (4 if masked else 0) + length
            if first == FIN_TEXT and masked and length <= self._max:
                if size < end:
                    self._need = end - at
                    break
                text = _text(data, head, length)
                if text is None:  # not UTF-8: hypercorn says so (1007)
                    self.active = False
                    break
                at = end
                try:
                    self._handler(text)
                except Exception:  # a frame must never stop the reading of its connection
                    log.exception("frame.handler_failed")
            elif first & 0xF8 == 0x88 and length <= 125:  # FIN, no extension bits, control
                if size < end:
                    self._need = end - at
                    break
                await self._inner.handle(RawData(bytes(data[at:end])))  # hypercorn answers
                at = end
                if first & 0x0F not in (PING, PONG):  # a close (or no opcode at all)
                    self.active = False
            else:  # anything else: from this frame on, hypercorn's path
                self.active = False
        rest = bytes(data[at:])
        del data[:]
        if not self.active:
            self._need = 2
            self.stop()
            if rest:
                await self._inner.handle(RawData(rest))
        elif rest:
            data += rest

    def stop(self) -> None:
        """Hand the connection back to hypercorn (bytes kept here go with its next read)."""
        self.active = False
        self._handler = _ignore  # it holds the session, which holds this: no cycle is left
        if self._tcp.protocol is self and not self._pending:
            self._tcp.protocol = self._inner


def _ignore(text: str) -> None:
    """What a stopped reader hands text to (it hands none: it is inactive)."""


def _text(data: bytearray, head: int, length: int) -> str | None:
    """The unmasked text of the frame whose mask starts at ``head``; ``None``: not UTF-8."""
    start = head + 4
    mask = bytes(data[head:start])
    key = (mask * (length // 4 + 1))[:length]
    payload = int.from_bytes(data[start : start + length], "little")
    plain = (payload ^ int.from_bytes(key, "little")).to_bytes(length, "little")
    try:
        return plain.decode()
    except UnicodeDecodeError:
        return None


def frame_reader(send: Any, receive: Any, handler: TextHandler) -> FrameReader | None:
    """Put a :class:`FrameReader` on the accepted WebSocket whose ASGI callables these are.

    ``None`` (and nothing changed) where frames must go through hypercorn: not hypercorn over
    HTTP/1.1, an extension negotiated, or bytes already half-read or queued for the app.
    """
    stream = getattr(send, "__self__", None)  # hypercorn's WSStream
    http = getattr(getattr(stream, "send", None), "__self__", None)  # H11Protocol
    tcp = getattr(getattr(http, "send", None), "__self__", None)  # its TCPServer
    inner = getattr(tcp, "protocol", None)  # its ProtocolWrapper
    if inner is None or getattr(inner, "protocol", None) is not http:
        return None
    connection = getattr(stream, "connection", None)  # wsproto's Connection
    proto = getattr(connection, "_proto", None)
    decoder = getattr(proto, "_frame_decoder", None)
    messages = getattr(proto, "_message_decoder", None)
    extensions = getattr(proto, "extensions", None)
    empty = getattr(getattr(receive, "__self__", None), "empty", None)  # the app's queue's
    config = getattr(stream, "config", None)
    max_size = getattr(config, "websocket_max_message_size", None)
    h11_buffer = getattr(getattr(http, "connection", None), "buffer", None)
    clean = (
        isinstance(extensions, list)
        and not extensions
        and decoder is not None
        and getattr(decoder, "header", 1) is None
        and len(getattr(decoder, "buffer", b"?")) == 0
        and getattr(messages, "opcode", 1) is None
        and getattr(getattr(stream, "buffer", None), "value", 1) is None
        and isinstance(h11_buffer, bytearray)
        and not h11_buffer
        and callable(empty)
        and empty()
    )
    if not clean or tcp is None or not isinstance(max_size, int):
        return None
    reader = FrameReader(tcp, inner, handler, max_size)
    tcp.protocol = reader
    return reader
