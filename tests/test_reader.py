"""Text frames read straight from the connection (engine/server/reader.py), over real sockets.

Frames are written byte for byte here, so that they can arrive split, several in one write,
fragmented, unmasked or not UTF-8; whatever is not a whole text frame must come out exactly as
hypercorn alone would have it (checked on every upgrade of hypercorn).
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from engine.testing.llm_server import Reply

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def frame(payload: bytes, opcode: int = TEXT, *, fin: bool = True, mask: bool = True) -> bytes:
    """A client's frame, as RFC 6455 section 5.2 lays it out."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def event(**fields: Any) -> bytes:
    return frame(orjson.dumps(fields))


class Raw:
    """A platform side that writes raw bytes and reads the server's frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def write(self, data: bytes, *, piecewise: bool = False) -> None:
        for piece in [data[i : i + 1] for i in range(len(data))] if piecewise else [data]:
            self.writer.write(piece)
            await self.writer.drain()

    async def next(self) -> tuple[int, bytes]:
        """The server's next frame: (opcode, payload); servers never mask."""
        async with asyncio.timeout(5):
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0x0F, await self.reader.readexactly(size)

    async def expect(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The next JSON frame of ``response_type`` ``kind`` (with ``fields``), skipping others."""
        for _ in range(200):
            opcode, payload = await self.next()
            if opcode != TEXT:
                continue
            found: dict[str, Any] = orjson.loads(payload)
            if found.get("response_type") == kind and all(
                found.get(k) == v for k, v in fields.items()
            ):
                return found
        raise AssertionError(f"no {kind} frame")

    async def close_code(self) -> int | None:
        """The code of the server's close frame (``None``: the connection just ended)."""
        for _ in range(200):
            try:
                opcode, payload = await self.next()
            except asyncio.IncompleteReadError:
                return None
            if opcode == CLOSE:
                return int(struct.unpack("!H", payload[:2])[0]) if payload else None
        raise AssertionError("no close frame")


@asynccontextmanager
async def raw_call(server: Any, call_id: str) -> AsyncIterator[Raw]:
    host, port = "127.0.0.1", server.settings.port
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /llm-websocket/{call_id} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    raw = Raw(reader, writer)
    try:
        yield raw
    finally:
        writer.close()
        await writer.wait_closed()


def reader_of(server: Any, call_id: str) -> Any:
    return server.runtime.store.get(call_id).owner.socket._reader


async def test_text_frames_are_read_straight_from_the_connection(llm, start_server):
    server = start_server()
    async with raw_call(server, "call_raw") as call:
        await call.expect("response", response_id=0)
        assert reader_of(server, "call_raw").active
        await call.write(event(interaction_type="ping_pong", timestamp=7))
        assert (await call.expect("ping_pong"))["timestamp"] == 7
        assert reader_of(server, "call_raw").active


async def test_frames_split_byte_by_byte_or_sent_together_are_read_whole(llm, start_server):
    llm.script(Reply(text="First answer."))
    server = start_server()
    transcript = [{"role": "user", "content": "é" * 200}]  # a 2-byte length, UTF-8 split
    async with raw_call(server, "call_split") as call:
        await call.expect("response", response_id=0)
        await call.write(event(interaction_type="ping_pong", timestamp=1), piecewise=True)
        assert (await call.expect("ping_pong"))["timestamp"] == 1
        together = event(interaction_type="update_only", transcript=transcript)
        together += event(interaction_type="ping_pong", timestamp=2)
        together += event(
            interaction_type="response_required", response_id=1, transcript=transcript
        )
        await call.write(together[:5] + together[5:-3], piecewise=False)
        await call.write(together[-3:], piecewise=True)
        assert (await call.expect("ping_pong"))["timestamp"] == 2
        answer = await call.expect("response", response_id=1, content_complete=True)
    assert answer is not None
    assert llm.requests[-1]["messages"][-1]["content"] == "é" * 200


async def test_control_frames_are_answered_by_hypercorn_and_reading_goes_on(llm, start_server):
    server = start_server()
    async with raw_call(server, "call_control") as call:
        await call.expect("response", response_id=0)
        await call.write(frame(b"are you there", PING) + frame(b"", PONG))
        for _ in range(10):
            opcode, payload = await call.next()
            if opcode == PONG:
                break
        assert (opcode, payload) == (PONG, b"are you there")
        await call.write(event(interaction_type="ping_pong", timestamp=3))
        assert (await call.expect("ping_pong"))["timestamp"] == 3
        assert reader_of(server, "call_control").active
        await call.write(frame(struct.pack("!H", 1000), CLOSE))
        assert await call.close_code() == 1000


async def test_a_fragmented_message_goes_the_way_hypercorn_reads_it(llm, start_server):
    server = start_server()
    whole = orjson.dumps({"interaction_type": "ping_pong", "timestamp": 4})
    async with raw_call(server, "call_fragments") as call:
        await call.expect("response", response_id=0)
        await call.write(
            frame(whole[:10], TEXT, fin=False) + frame(whole[10:], CONTINUATION, fin=True)
        )
        assert (await call.expect("ping_pong"))["timestamp"] == 4
        assert not reader_of(server, "call_fragments").active
        await call.write(event(interaction_type="ping_pong", timestamp=5))
        assert (await call.expect("ping_pong"))["timestamp"] == 5


async def ending(server: Any, call_id: str, data: bytes, *, reader_on: bool) -> int | None:
    """How a connection ends after ``data``: the close code, ``None`` for no close frame."""
    async with raw_call(server, call_id) as call:
        await call.expect("response", response_id=0)
        if not reader_on:  # a binary frame (ignored by the call) turns the reader off
            await call.write(frame(b"\x00", BINARY))
            await call.write(event(interaction_type="ping_pong", timestamp=1))
            await call.expect("ping_pong")
        assert reader_of(server, call_id).active is reader_on
        await call.write(data)
        return await call.close_code()


async def test_text_that_is_not_utf8_ends_the_connection_as_hypercorn_ends_it(llm, start_server):
    server = start_server()
    bad = frame(b'{"interaction_type": "\xff"}')
    hypercorn = await ending(server, "call_utf8_off", bad, reader_on=False)
    assert await ending(server, "call_utf8_on", bad, reader_on=True) == hypercorn


async def test_an_unmasked_frame_ends_the_connection_as_hypercorn_ends_it(llm, start_server):
    server = start_server()
    unmasked = frame(b'{"interaction_type": "ping_pong", "timestamp": 1}', mask=False)
    hypercorn = await ending(server, "call_unmasked_off", unmasked, reader_on=False)
    assert await ending(server, "call_unmasked_on", unmasked, reader_on=True) == hypercorn


async def test_a_frame_over_the_size_limit_is_refused_as_hypercorn_refuses_it(llm, start_server):
    server = start_server(max_frame_bytes=65536)
    big = event(interaction_type="update_only", transcript=[{"x": "y" * 70000}])
    hypercorn = await ending(server, "call_big_off", big, reader_on=False)
    assert hypercorn == 1009
    assert await ending(server, "call_big_on", big, reader_on=True) == hypercorn
