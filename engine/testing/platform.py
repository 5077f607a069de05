"""A scripted stand-in for the voice platform: the WebSocket client side of one call.

It connects like the platform does (``<url>/<call_id>``), records every frame the server sends
with its arrival time, and offers the platform's events as methods::

    async with PlatformCall.connect(url) as call:
        config = await call.expect("config")
        greeting = await call.response(0)
        await call.request(1, Transcript().agent(greeting.text).user("Hi"))
        answer = await call.response(1)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]


class Transcript(list[dict[str, Any]]):
    """A platform transcript under construction: ``Transcript().agent("Hi").user("Hello")``."""

    def say(self, role: str, content: str, spoken: tuple[float, float] | None = None) -> Transcript:
        """Append an utterance (with an empty ``words`` list, as agent lines have).

        ``spoken``: when it was said, in seconds from the call's start: its words are then
        timed as the platform times a caller's words, spread evenly over that span.
        """
        self.append({"role": role, "content": content, "words": _words(content, spoken)})
        return self

    def agent(self, content: str) -> Transcript:
        """Append an agent utterance."""
        return self.say("agent", content)

    def user(self, content: str) -> Transcript:
        """Append a caller utterance."""
        return self.say("user", content)


@dataclass
class Response:
    """The chunks the server sent for one ``response_id``, up to ``content_complete``."""

    response_id: int
    chunks: list[Frame] = field(default_factory=list)
    first_at: float = 0.0
    done_at: float = 0.0

    @property
    def text(self) -> str:
        """All content, concatenated as the platform does."""
        return "".join(chunk["content"] for chunk in self.chunks)

    @property
    def complete(self) -> bool:
        """Whether the last chunk closed the response."""
        return bool(self.chunks) and self.chunks[-1]["content_complete"] is True

    def flag(self, name: str) -> Any:
        """The value of an action field (``end_call``, ``transfer_number``, ...) on any chunk."""
        for chunk in self.chunks:
            if name in chunk:
                return chunk[name]
        return None


class PlatformCall:
    """One call's socket, driven by a test or a benchmark."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[tuple[float, Frame]] = []  # (arrival time, frame), every frame
        self._unread: asyncio.Queue[tuple[float, Frame]] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.binary_frames = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, **kwargs: Any) -> AsyncIterator[PlatformCall]:
        """Open a call's socket (no frame size limit, no compression, like the platform)."""
        kwargs.setdefault("max_size", None)
        kwargs.setdefault("compression", None)
        kwargs.setdefault("open_timeout", 7)  # the platform's accept deadline
        async with connect(url, **kwargs) as ws:
            call = cls(ws)
            try:
                yield call
            finally:
                call._reader.cancel()

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                now = time.perf_counter()
                if isinstance(message, bytes):
                    self.binary_frames += 1
                    continue
                frame = orjson.loads(message)
                self.frames.append((now, frame))
                self._unread.put_nowait((now, frame))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    # -- sending ---------------------------------------------------------------------------

    async def send(self, event: Frame | str) -> float:
        """Send an event (a dict, or raw text for malformed-frame tests); returns the send time."""
        await self.ws.send(event if isinstance(event, str) else orjson.dumps(event).decode())
        return time.perf_counter()

    async def ping(self, timestamp: int | None = None) -> int:
        """Send a keepalive; returns its timestamp."""
        timestamp = timestamp if timestamp is not None else int(time.time() * 1000)
        await self.send({"interaction_type": "ping_pong", "timestamp": timestamp})
        return timestamp

    async def call_details(self, **call: Any) -> None:
        """Send ``call_details`` with the given call fields."""
        await self.send({"interaction_type": "call_details", "call": call})

    async def update(self, transcript: list[dict[str, Any]], turntaking: str | None = None) -> None:
        """Send ``update_only``."""
        event: Frame = {"interaction_type": "update_only", "transcript": transcript}
        if turntaking:
            event["turntaking"] = turntaking
        await self.send(event)

    async def request(
        self, response_id: int, transcript: list[dict[str, Any]], reminder: bool = False
    ) -> float:
        """Send ``response_required`` (or ``reminder_required``); returns the send time."""
        kind = "reminder_required" if reminder else "response_required"
        return await self.send(
            {"interaction_type": kind, "response_id": response_id, "transcript": transcript}
        )

    # -- receiving -------------------------------------------------------------------------

    async def next_frame(self, timeout: float = 5.0) -> tuple[float, Frame]:
        """The next frame not yet read, with its arrival time."""
        return await asyncio.wait_for(self._unread.get(), timeout)

    async def expect(
        self, response_type: str, timeout: float = 5.0, where: Callable[[Frame], bool] | None = None
    ) -> Frame:
        """Skip ahead to the next frame of ``response_type`` (matching ``where``)."""
        deadline = time.perf_counter() + timeout
        while True:
            _, frame = await self.next_frame(max(0.001, deadline - time.perf_counter()))
            if frame.get("response_type") == response_type and (where is None or where(frame)):
                return frame

    async def response(self, response_id: int, timeout: float = 5.0) -> Response:
        """Collect the chunks of ``response_id`` until ``content_complete``.

        Frames of other types are skipped (they stay in :attr:`frames`).
        """
        result = Response(response_id)
        deadline = time.perf_counter() + timeout
        while True:
            at, frame = await self.next_frame(max(0.001, deadline - time.perf_counter()))
            if frame.get("response_type") != "response" or frame["response_id"] != response_id:
                continue
            if not result.chunks:
                result.first_at = at
            result.chunks.append(frame)
            if frame["content_complete"]:
                result.done_at = at
                return result

    def sent(self, response_type: str, **match: Any) -> list[Frame]:
        """Every frame so far of ``response_type`` whose fields equal ``match``."""
        return [
            frame
            for _, frame in self.frames
            if frame.get("response_type") == response_type
            and all(frame.get(key) == value for key, value in match.items())
        ]

    async def close(self, code: int = 1000) -> None:
        """Close the socket as the platform does when a call ends."""
        await self.ws.close(code)
        await asyncio.wait_for(self.closed.wait(), 5)

    def drop(self) -> None:
        """Cut the TCP connection without a close frame (a 1006 on the server's side)."""
        transport = self.ws.transport
        transport.abort()


def _words(content: str, spoken: tuple[float, float] | None) -> list[dict[str, Any]]:
    """The platform's word timings of ``content`` said over ``spoken`` (none without it)."""
    words = content.split()
    if spoken is None or not words:
        return []
    start, end = spoken
    step = (end - start) / len(words)
    return [
        {"word": word, "start": round(start + i * step, 3), "end": round(start + (i + 1) * step, 3)}
        for i, word in enumerate(words)
    ]


class Dialog:
    """A caller talking to the agent turn by turn over a :class:`PlatformCall`.

    It keeps the transcript the way the platform does (the agent's lines as spoken, the
    caller's lines as recognised) and numbers the requests::

        dialog = Dialog(call)
        greeting = await dialog.start()
        answer = await dialog.say("My name is Dana Scully")
    """

    def __init__(self, call: PlatformCall) -> None:
        self.call = call
        self.transcript = Transcript()
        self.next_id = 1

    async def start(self, timeout: float = 5.0) -> Response:
        """Read the greeting (the begin message)."""
        greeting = await self.call.response(0, timeout)
        if greeting.text:
            self.transcript.agent(greeting.text)
        return greeting

    async def say(
        self, text: str, timeout: float = 5.0, spoken: tuple[float, float] | None = None
    ) -> Response:
        """The caller says ``text`` (over ``spoken``, word-timed); returns the agent's answer."""
        self.transcript.say("user", text, spoken)
        await self.call.update(self.transcript, turntaking="agent_turn")
        return await self.ask(timeout=timeout)

    async def ask(self, reminder: bool = False, timeout: float = 5.0) -> Response:
        """Send the next request for the current transcript and collect the answer."""
        response_id = self.next_id
        self.next_id += 1
        await self.call.request(response_id, list(self.transcript), reminder=reminder)
        answer = await self.call.response(response_id, timeout)
        if answer.text:
            self.transcript.agent(answer.text)
        return answer
