"""Talk to a flow in-process, turn by turn, through the conversation code the server runs.

The server's session turns socket frames into :class:`~engine.agent.Turn` objects and the
conversation's parts into frames; this runner does the same without a socket, so that the
terminal chat, conversation tests and coverage all exercise exactly the code a phone call
does::

    flow = Project.from_settings().open_flow("clinic_intake")
    runner = FlowRunner(flow)
    print(runner.start().text)
    reply = await runner.say("My name is Dana Scully")
    runner.state, runner.slots
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.agent import CallInfo, Speech, Turn
from engine.llm import ChatModel
from engine.protocol import NO_CONTROL, CallControl, SideEvent, Utterance

from .actions import ActionRegistry, ActionRunner
from .compile import CompiledFlow
from .conversation import FlowConversation
from .services import FlowServices


@dataclass
class AgentReply:
    """What the agent did in one turn: its words, the call control, and bookkeeping events."""

    text: str = ""
    control: CallControl = NO_CONTROL
    events: list[SideEvent] = field(default_factory=list)
    error: str | None = None
    """The conversation failed; ``text`` is then what the caller heard (the fallback line, if
    nothing was said before the failure)."""

    @property
    def ended(self) -> bool:
        """The agent hangs up after this line."""
        return self.control.end_call

    @property
    def transfer(self) -> str | None:
        """The number the call is transferred to after this line, if any."""
        return self.control.transfer_number


class FlowRunner:
    """One call of one flow, driven by text instead of a phone."""

    def __init__(
        self,
        flow: CompiledFlow,
        model: ChatModel | None = None,
        *,
        call: CallInfo | None = None,
        today: Callable[[], date] | None = None,
        actions: Callable[[str, ActionRegistry], ActionRunner] = ActionRunner,
        time_zone: str = "UTC",
        clock: Callable[[], datetime] | None = None,
        fallback_line: str | None = None,
    ) -> None:
        self.flow = flow
        self.fallback_line = fallback_line
        """Said when a turn fails before any words, as the server says it (``None``: nothing)."""
        self.call = call or CallInfo("test_call", flow=flow.name)
        services = FlowServices(lambda _call: flow, model, today, actions, time_zone)
        if clock is not None:
            services = dataclasses.replace(services, clock=clock)
        self.conversation = FlowConversation(self.call, services)
        self.transcript: list[Utterance] = []
        self.turns = 0
        self.states: list[str] = []  # every state entered, in order (for coverage)
        self.edges: list[tuple[str, str]] = []  # every move between states

    @property
    def state(self) -> str:
        """The state the call is in."""
        return self.conversation.state

    @property
    def slots(self) -> dict[str, Any]:
        """The slots filled so far."""
        return dict(self.conversation.memory.slots)

    def start(self) -> AgentReply:
        """The greeting (begin message)."""
        greeting = self.conversation.greeting(self.call)
        self._record_path(0)
        if greeting.text:
            self.transcript.append(Utterance("agent", greeting.text))
        return AgentReply(greeting.text, greeting.control)

    async def say(self, text: str) -> AgentReply:
        """The caller says ``text``; the agent answers."""
        self.transcript.append(Utterance("user", text))
        return await self._turn(reminder=False)

    async def silence(self) -> AgentReply:
        """The caller stays quiet (the platform asks for a reminder)."""
        return await self._turn(reminder=True)

    async def _turn(self, reminder: bool) -> AgentReply:
        self.turns += 1
        before = len(self.conversation.memory.path)
        turn = Turn(self.turns, tuple(self.transcript), self.call, reminder)
        reply = AgentReply()
        pieces: list[str] = []
        try:
            async for part in self.conversation.respond(turn):
                if isinstance(part, Speech):
                    pieces.append(part.text)
                elif isinstance(part, CallControl):
                    reply.control = reply.control | part
                else:
                    reply.events.append(part)
        except Exception as exc:  # the server logs it and speaks the fallback line
            reply.error = f"{type(exc).__name__}: {exc}"
            if not "".join(pieces) and self.fallback_line:
                # The caller hears it, so the transcript has it: the next caller line then
                # stands alone instead of being read with the one that failed.
                pieces.append(self.fallback_line)
        reply.text = "".join(pieces)
        if reply.text:
            self.transcript.append(Utterance("agent", reply.text))
        self._record_path(before)
        return reply

    def _record_path(self, start: int) -> None:
        path = self.conversation.memory.path
        previous = self.states[-1] if self.states else None
        for state in path[start:]:
            if previous is not None and previous != state:
                self.edges.append((previous, state))
            self.states.append(state)
            previous = state

    def close(self) -> None:
        """End the call (frees its place in the flow's machine)."""
        self.conversation.close()
