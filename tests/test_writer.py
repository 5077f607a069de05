"""The single writer: order, keepalive priority, supersession and coalescing."""

from __future__ import annotations

import asyncio

import orjson

from engine.protocol import CallControl, Metadata, Pong, ResponseChunk, ToolCallResult
from engine.server.writer import MAX_QUEUED, URGENT_KEPT, Writer


class SlowSocket:
    def __init__(self) -> None:
        self.frames: list[dict[str, object]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, frame: str) -> None:
        await self.gate.wait()
        self.frames.append(orjson.loads(frame))


async def run_writer(writer: Writer) -> asyncio.Task[None]:
    task = asyncio.create_task(writer.run())
    await asyncio.sleep(0)
    return task


async def test_chunks_that_pile_up_are_merged_in_order():
    socket = SlowSocket()
    writer = Writer(socket.send)
    writer.current = 1
    task = await run_writer(writer)
    socket.gate.clear()
    writer.put(ResponseChunk(1, "Hello"))
    await asyncio.sleep(0)  # the writer takes the first chunk and blocks in send
    for piece in (" there", ", how", " are you?"):
        writer.put(ResponseChunk(1, piece))
    writer.put(ResponseChunk(1, "", True, CallControl(end_call=True)))
    socket.gate.set()
    await writer.drained()
    task.cancel()
    assert socket.frames == [
        {
            "response_type": "response",
            "response_id": 1,
            "content": "Hello",
            "content_complete": False,
        },
        {
            "response_type": "response",
            "response_id": 1,
            "content": " there, how are you?",
            "content_complete": True,
            "end_call": True,
        },
    ]


async def test_first_words_are_not_held_back():
    socket = SlowSocket()
    writer = Writer(socket.send)
    writer.current = 1
    task = await run_writer(writer)
    writer.put(ResponseChunk(1, "First"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert socket.frames and socket.frames[0]["content"] == "First"
    task.cancel()


async def test_stale_chunks_are_dropped_at_send_time():
    socket = SlowSocket()
    writer = Writer(socket.send)
    writer.current = 1
    task = await run_writer(writer)
    socket.gate.clear()
    writer.put(ResponseChunk(1, "Old"))
    await asyncio.sleep(0)
    writer.put(ResponseChunk(1, " stale"))
    writer.put(ToolCallResult("t", "kept"))
    writer.current = 2  # the read loop saw request 2
    writer.put(ResponseChunk(2, "New", True))
    socket.gate.set()
    await writer.drained()
    task.cancel()
    contents = [f.get("content") for f in socket.frames]
    assert contents == ["Old", "kept", "New"]
    assert writer.stale_dropped == 1


async def test_keepalive_jumps_the_queue():
    socket = SlowSocket()
    writer = Writer(socket.send)
    writer.current = 1
    task = await run_writer(writer)
    socket.gate.clear()
    writer.put(ResponseChunk(1, "a"))
    await asyncio.sleep(0)
    writer.put(ToolCallResult("t", "x"))
    writer.put(ToolCallResult("u", "y"))
    writer.put_first(Pong(99))
    socket.gate.set()
    await writer.drained()
    task.cancel()
    assert [f["response_type"] for f in socket.frames] == [
        "response",
        "ping_pong",
        "tool_call_result",
        "tool_call_result",
    ]


class DirectSocket(SlowSocket):
    """A socket that can also write a frame without waiting, unless told it cannot."""

    def __init__(self) -> None:
        super().__init__()
        self.can_write_now = True
        self.written_now = 0

    def send_now(self, frame: str) -> bool:
        if not self.can_write_now:
            return False
        self.written_now += 1
        self.frames.append(orjson.loads(frame))
        return True


async def test_an_idle_writer_sends_at_once_without_a_task_switch():
    socket = DirectSocket()
    writer = Writer(socket.send, socket.send_now)
    writer.current = 1
    writer.put(ResponseChunk(1, "Hello"))
    writer.put_first(Pong(5))
    writer.put(ResponseChunk(2, "not yet asked"))  # stale: dropped, as at send time
    assert [f.get("content") for f in socket.frames] == ["Hello", None]
    assert socket.written_now == 2 and writer.frames_sent == 2 and writer.stale_dropped == 1


async def test_nothing_overtakes_a_frame_being_sent():
    socket = DirectSocket()
    writer = Writer(socket.send, socket.send_now)
    writer.current = 1
    task = await run_writer(writer)
    socket.can_write_now = False  # e.g. the peer is slow to read: the task sends, and waits
    socket.gate.clear()
    writer.put(ResponseChunk(1, "one"))
    await asyncio.sleep(0)  # the task is inside send
    socket.can_write_now = True
    writer.put(ResponseChunk(1, " two"))  # must queue behind "one"
    writer.put_first(Pong(7))  # a keepalive too: it goes next, not before "one"
    socket.gate.set()
    await writer.drained()
    writer.put(ResponseChunk(1, " three", True))  # idle again: at once
    task.cancel()
    assert [f.get("content") for f in socket.frames] == ["one", None, " two", " three"]
    assert socket.written_now == 1


async def test_an_event_that_has_no_json_is_dropped_and_the_writer_goes_on():
    # An action's metadata may hold what JSON cannot carry; that event is lost, not the call.
    queued, direct = SlowSocket(), DirectSocket()
    slow, fast = Writer(queued.send), Writer(direct.send, direct.send_now)
    task = await run_writer(slow)
    for writer in (slow, fast):
        writer.current = 1
        writer.put(Metadata({"when": {1, 2}}))  # a set
        writer.put_first(Metadata(2**64))
        writer.put(ResponseChunk(1, "Still here."))
        writer.put_first(Pong(7))
    await slow.drained()
    task.cancel()
    for frames in (queued.frames, direct.frames):
        assert sorted(f["response_type"] for f in frames) == ["ping_pong", "response"]
        assert [f["content"] for f in frames if "content" in f] == ["Still here."]


async def test_a_peer_that_never_reads_keeps_few_echoes_and_is_given_up_on():
    # Pings kept coming while nothing could be sent: every echo was queued (160 MiB, then 340,
    # in a minute). Only the newest echoes are kept, and a send that waits too long gives up.
    socket = SlowSocket()
    socket.gate.clear()  # the peer reads nothing: no send ever completes
    reasons: list[str] = []
    writer = Writer(socket.send, on_stuck=reasons.append, stall=0.2)
    task = await run_writer(writer)
    writer.put(ResponseChunk(0, "Hello"))
    for timestamp in range(100_000):
        writer.put_first(Pong(timestamp))
    assert writer.queued <= 2 * URGENT_KEPT
    await asyncio.wait_for(task, 2)  # the writer stops, and says why
    assert writer.stuck and len(reasons) == 1 and "0.2s" in reasons[0]
    writer.put(ResponseChunk(0, "more"))
    writer.put_first(Pong(1))
    assert writer.queued == 0  # nothing is kept for a peer given up on


async def test_a_queue_no_one_drains_is_given_up_on():
    socket = SlowSocket()
    socket.gate.clear()
    reasons: list[str] = []
    writer = Writer(socket.send, on_stuck=reasons.append, stall=60)
    task = await run_writer(writer)
    writer.current = 1
    for _ in range(MAX_QUEUED + 10):
        writer.put(ResponseChunk(1, "word "))
    assert writer.stuck and writer.queued == 0
    assert reasons == [f"more than {MAX_QUEUED} events wait to be sent"]
    await asyncio.wait_for(task, 2)
