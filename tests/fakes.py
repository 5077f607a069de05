"""In-process fakes for testing the session without sockets: a socket and a scripted agent.

The session is driven exactly as the Quart adapter drives it (through its ``Socket`` protocol);
only the network is missing. End-to-end tests over real sockets live in ``test_server.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.agent import CallInfo, Greeting, Part, Speech, Turn
from engine.errors import LLMError
from engine.protocol import RawTranscript
from engine.server.metrics import Metrics
from engine.server.session import Session
from engine.server.store import CallState, CallStore, MemoryCallStore
from engine.settings import Settings

GONE = object()  # put into a socket's inbox: the peer went away


class FakeSocket:
    """The session's view of a WebSocket: frames in from a queue, frames out into a list."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[object] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.accepted = False
        self.close_code: int | None = None
        self.changed = asyncio.Event()

    async def accept(self) -> None:
        self.accepted = True

    async def receive(self) -> str | bytes:
        item = await self.inbox.get()
        if item is GONE:
            raise asyncio.CancelledError  # what Quart does when the peer is gone
        assert isinstance(item, str | bytes)
        return item

    async def send(self, data: str) -> None:
        assert isinstance(data, str), "frames are text, never binary"
        self.sent.append(orjson.loads(data))
        self.changed.set()

    async def close(self, code: int, reason: str = "") -> None:
        self.close_code = code
        self.changed.set()
        self.inbox.put_nowait(GONE)

    async def abort(self) -> None:
        self.close_code = 1006  # what the peer sees: no close frame
        self.changed.set()
        self.inbox.put_nowait(GONE)

    # -- the platform's side -----------------------------------------------------------------

    def event(self, **fields: Any) -> None:
        self.inbox.put_nowait(orjson.dumps(fields).decode())

    def raw(self, frame: str | bytes) -> None:
        self.inbox.put_nowait(frame)

    def gone(self) -> None:
        """The peer goes away (the platform hung up or the network dropped)."""
        self.inbox.put_nowait(GONE)

    def responses(self, response_id: int) -> list[dict[str, Any]]:
        return [
            f
            for f in self.sent
            if f["response_type"] == "response" and f["response_id"] == response_id
        ]

    def text(self, response_id: int) -> str:
        return "".join(f["content"] for f in self.responses(response_id))

    def closed(self, response_id: int) -> bool:
        return any(f["content_complete"] for f in self.responses(response_id))

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (bounded by ``timeout``)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Step:
    """One scripted thing a conversation does in a turn."""

    say: str | None = None
    wait: float = 0.0
    fail: BaseException | None = None
    part: Part | None = None


@dataclass
class ScriptedAgent:
    """An agent whose conversations answer each caller line from a script (in-process)."""

    script: dict[str, list[Step]] = field(default_factory=dict)
    greeting: str = "Hello."
    wants_details: bool = False
    started: list[CallInfo] = field(default_factory=list)
    observed: list[int] = field(default_factory=list)  # transcript lengths of update_only
    cancelled: list[int] = field(default_factory=list)  # response ids whose turn was cancelled
    asked: list[int] = field(default_factory=list)  # response ids the conversation was asked

    def start(self, call: CallInfo) -> ScriptedConversation:
        self.started.append(call)
        return ScriptedConversation(self)

    def accepts(self, call: CallInfo) -> str | None:
        return None

    def problems(self) -> list[str]:
        return []


class ScriptedConversation:
    def __init__(self, agent: ScriptedAgent) -> None:
        self.agent = agent

    @property
    def wants_call_details(self) -> bool:
        return self.agent.wants_details

    def greeting(self, call: CallInfo) -> Greeting:
        name = call.details.get("retell_llm_dynamic_variables", {}).get("name")
        return Greeting(f"{self.agent.greeting} {name}".strip() if name else self.agent.greeting)

    def observe(self, transcript: RawTranscript, turntaking: str | None) -> None:
        self.agent.observed.append(len(transcript.entries()))

    def close(self) -> None:
        pass

    async def respond(self, turn: Turn) -> AsyncIterator[Part]:
        self.agent.asked.append(turn.response_id)
        line = turn.transcript[-1].content if turn.transcript else ""
        steps = self.agent.script.get(line, [Step(say=f"You said {line}.")])
        try:
            for step in steps:
                if step.wait:
                    await asyncio.sleep(step.wait)
                if step.fail is not None:
                    raise step.fail
                if step.say is not None:
                    yield Speech(step.say)
                if step.part is not None:
                    yield step.part
        except asyncio.CancelledError:
            self.agent.cancelled.append(turn.response_id)
            raise


class Line:
    """One socket of one call, served by a real :class:`Session` in a task."""

    def __init__(self, harness: Harness, call_id: str) -> None:
        self.socket = FakeSocket()
        self.session = Session(
            self.socket,
            CallInfo(call_id),
            harness.store,
            harness.new_state,
            harness.settings,
            harness.metrics,
        )
        self.task = asyncio.create_task(self.session.run())

    async def request(self, response_id: int, *lines: str, reminder: bool = False) -> None:
        transcript = [{"role": "user", "content": line} for line in lines]
        kind = "reminder_required" if reminder else "response_required"
        self.socket.event(interaction_type=kind, response_id=response_id, transcript=transcript)

    async def answer(self, response_id: int, timeout: float = 5.0) -> str:
        await self.socket.until(lambda: self.socket.closed(response_id), timeout)
        return self.socket.text(response_id)

    async def gone(self) -> None:
        """The platform closes the socket; returns once the session has finished."""
        self.socket.gone()
        await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), 2)


class Harness:
    """A store, metrics and settings shared by the lines of one test, as one server has."""

    def __init__(self, agent: ScriptedAgent, store: CallStore | None = None, **settings: Any):
        self.agent = agent
        settings.setdefault("call_details_wait", 0.2)
        settings.setdefault("call_grace", 5.0)
        self.settings = Settings(_env_file=None, **settings)  # type: ignore[call-arg]
        self.store = store if store is not None else MemoryCallStore(self.settings.call_grace)
        self.metrics = Metrics()

    def revive(self, call: CallInfo, snapshot: object) -> ScriptedConversation:
        """A conversation for a call from elsewhere (scripted ones keep nothing to restore)."""
        return self.agent.start(call)

    def new_state(self, call: CallInfo) -> CallState:
        return CallState(call, self.agent.start(call))

    def new_state_for(self, call_id: str) -> CallState:
        return self.new_state(CallInfo(call_id))

    def connect(self, call_id: str = "call_1") -> Line:
        return Line(self, call_id)


MODEL_DOWN = LLMError("the model request failed: HTTP 503")
