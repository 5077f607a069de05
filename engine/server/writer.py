"""The one writer of a socket: every outbound frame goes through it, in order.

Several producers share a socket (keepalive echoes from the read loop, a response stream, tool
bookkeeping), so they queue events here and a single task sends them. Two policies live here
because only the writer sees the queue at send time:

* **Supersession.** A response chunk whose ``response_id`` is no longer the current one is
  dropped at the moment it would be sent. The read loop marks a newer request current as soon
  as it reads it, so no stale chunk is ever sent after a newer request was read. The begin
  message (id 0) is the exception: the platform waits for it on every socket.
* **Coalescing.** Chunks of one response that piled up while a send was in progress are merged
  into one frame (content concatenated, call control united). Nothing waits on purpose: the first
  words go out as soon as the writer is free.

Where the socket can write a frame without waiting (``send_now``, see
:mod:`engine.server.frames`) and nothing is queued or being sent, an event is written at once
by whoever puts it: a frame per model token then costs no task switch.

A peer that stops reading cannot make the queue grow without bound. Only the newest
keepalive echoes are kept (an older echo is worth nothing once a newer one waits), and a frame
that cannot be sent within :data:`SEND_STALL` seconds, or more than :data:`MAX_QUEUED` events
waiting, means the peer is not reading: the writer gives up (``on_stuck``), drops what is
queued and takes nothing more, and the session drops the connection.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from engine.protocol import OutboundEvent, ResponseChunk, encode

log = structlog.get_logger("dialplan.writer")

URGENT_KEPT = 8
"""Keepalive echoes kept while they cannot be sent (the newest ones)."""
MAX_QUEUED = 10_000
"""Events that may wait to be sent: far above the words of any answer, even one superseded a
few times over."""
SEND_STALL = 10.0
"""Seconds one frame may wait to be sent before the peer counts as not reading (the platform
itself gives up on a silent socket after 5)."""


def _frame(event: OutboundEvent) -> str | None:
    """The frame of ``event``; ``None`` (and an error in the log) for one that has no JSON.

    An event built from an action's or a flow's data (metadata, agent settings) can hold
    values JSON cannot carry; that event is lost, not the socket's writer and all that follows.
    """
    try:
        return encode(event)
    except TypeError as exc:  # orjson's JSONEncodeError is a TypeError
        log.error("frame.unsendable", kind=type(event).__name__, error=str(exc))
        return None


class Writer:
    """Queue and send outbound events for one socket."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        send_now: Callable[[str], bool] | None = None,
        *,
        on_stuck: Callable[[str], None] | None = None,
        stall: float | None = None,
    ) -> None:
        self._send = send
        self._send_now = send_now
        """Writes a frame without waiting, or says it cannot (``False``)."""
        self._on_stuck = on_stuck
        """Told (why) when the peer is found not to read; the writer has stopped by then."""
        self.stall = SEND_STALL if stall is None else stall
        self.stuck = False
        """The peer does not read: nothing is queued or sent any more."""
        self._sending = False  # the task is inside ``send``: nothing may overtake it
        self.current = 0
        """The response id chunks must carry to be sent; the session moves it forward."""
        self._queue: deque[OutboundEvent] = deque()
        # Keepalive echoes, in arrival order; the oldest go when more wait than are kept.
        self._urgent: deque[OutboundEvent] = deque(maxlen=URGENT_KEPT)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.frames_sent = 0
        self.stale_dropped = 0

    def put(self, event: OutboundEvent) -> None:
        """Queue ``event`` behind everything already queued."""
        if self.stuck:
            return
        if self._send_now is not None and not self._queue and self._write_now(event):
            return
        if len(self._queue) >= MAX_QUEUED:
            self._give_up(f"more than {MAX_QUEUED} events wait to be sent")
            return
        self._queue.append(event)
        self._idle.clear()
        self._wake.set()

    def put_first(self, event: OutboundEvent) -> None:
        """Queue ``event`` ahead of all speech (keepalive echoes must not wait for it).

        Such events keep their own order: two echoes go out in the order of their pings. Of
        echoes that cannot go out, only the newest :data:`URGENT_KEPT` are kept.
        """
        if self.stuck:
            return
        if self._send_now is not None and self._write_now(event):
            return
        self._urgent.append(event)
        self._idle.clear()
        self._wake.set()

    @property
    def queued(self) -> int:
        """Events waiting to be sent."""
        return len(self._queue) + len(self._urgent)

    def detach(self) -> None:
        """Let go of the ``on_stuck`` callback (the session's).

        A finished socket's session and writer then hold each other no more, and are freed as
        soon as they end, not by the cycle collector.
        """
        self._on_stuck = None

    def discard(self) -> None:
        """Drop everything queued (the socket is being taken over or closed)."""
        self._queue.clear()
        self._urgent.clear()

    def _give_up(self, why: str) -> None:
        """The peer does not read: drop what waits, take nothing more, and say so once."""
        if self.stuck:
            return
        self.stuck = True
        self.discard()
        self._idle.set()  # nothing will be sent: nobody may wait for it
        self._wake.set()
        if self._on_stuck is not None:
            self._on_stuck(why)

    async def drained(self) -> None:
        """Wait until everything queued so far has been sent."""
        await self._idle.wait()

    def _write_now(self, event: OutboundEvent) -> bool:
        """Send ``event`` at once if nothing is ahead of it; ``False``: it must be queued."""
        if self._urgent or self._sending:
            return False
        if isinstance(event, ResponseChunk) and self._stale(event):
            return True
        assert self._send_now is not None
        frame = _frame(event)
        if frame is None:
            return True  # nothing to send, nothing to queue
        if not self._send_now(frame):
            return False
        self.frames_sent += 1
        return True

    async def run(self) -> None:
        """Send queued events until cancelled, or until the peer is found not to read."""
        queue, urgent = self._queue, self._urgent
        while not self.stuck:
            if urgent:
                await self._sent(_frame(urgent.popleft()))
                continue
            if not queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            event = queue.popleft()
            if isinstance(event, ResponseChunk):
                chunk = self._coalesce(event)
                if chunk is None:
                    continue
                event = chunk
            await self._sent(_frame(event))

    async def _sent(self, frame: str | None) -> None:
        if frame is None:
            return
        self._sending = True
        try:
            async with asyncio.timeout(self.stall):
                await self._send(frame)
        except TimeoutError:
            self._give_up(f"a frame waited {self.stall:g}s to be sent")
            return
        finally:
            self._sending = False
        self.frames_sent += 1

    def _stale(self, chunk: ResponseChunk) -> bool:
        """Whether ``chunk`` belongs to a superseded response (then it is counted, not sent)."""
        # The begin message (id 0) is owed on every socket, even when a request came first.
        if chunk.response_id in (self.current, 0):
            return False
        self.stale_dropped += 1
        return True

    def _coalesce(self, first: ResponseChunk) -> ResponseChunk | None:
        queue = self._queue
        response_id = first.response_id
        if self._stale(first):
            return None
        if first.content_complete or not queue:
            return first
        parts = [first.content]
        complete = False
        control = first.control
        while queue and not complete:
            following = queue[0]
            if not isinstance(following, ResponseChunk) or following.response_id != response_id:
                break
            queue.popleft()
            parts.append(following.content)
            complete = following.content_complete
            control = control | following.control
        if len(parts) == 1:
            return first
        return ResponseChunk(response_id, "".join(parts), complete, control)
