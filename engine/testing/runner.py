"""Talk to a flow in-process, turn by turn, through the conversation code the server runs.

The server's session turns socket frames into :class:`~engine.agent.Turn` objects and the
conversation's parts into frames; this runner does the same without a socket, so that the
terminal chat, conversation tests and coverage all exercise exactly the code a phone call
does::

    runner = FlowRunner.open("clinic_intake")
    print(runner.start().text)
    reply = runner.say("My name is Dana Scully")   # (async: await runner.say(...))
    runner.state, runner.slots
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..actions import ActionRunner
from ..agent import CallInfo, Speech, Turn
from ..conversation import FlowConversation
from ..errors import AuthoringErrors
from ..flows import CompiledFlow, FlowAgent, FlowRegistry
from ..llm import ChatModel
from ..prompts import make_environment
from ..protocol import NO_ACTIONS, Actions, SideEvent, Utterance
from ..voice import VOICE_FILTERS


@dataclass
class AgentReply:
    """What the agent did in one turn: its words, the actions, and bookkeeping events."""

    text: str = ""
    actions: Actions = NO_ACTIONS
    events: list[SideEvent] = field(default_factory=list)
    error: str | None = None  # the conversation failed; the server would speak its fallback

    @property
    def ended(self) -> bool:
        """The agent hangs up after this line."""
        return self.actions.end_call

    @property
    def transfer(self) -> str | None:
        """The number the call is transferred to after this line, if any."""
        return self.actions.transfer_number


class FlowRunner:
    """One call of one flow, driven by text instead of a phone."""

    def __init__(
        self,
        flow: CompiledFlow,
        model: ChatModel | None = None,
        *,
        call: CallInfo | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.flow = flow
        registry = _SingleFlow(flow)
        self.agent = FlowAgent(registry, model, flow.name, ActionRunner, today)  # type: ignore[arg-type]
        self.call = call or CallInfo("test_call", flow=flow.name)
        self.conversation = FlowConversation(self.agent, self.call)
        self.transcript: list[Utterance] = []
        self.turns = 0
        self.states: list[str] = []  # every state entered, in order (for coverage)
        self.edges: list[tuple[str, str]] = []  # every move between states

    @classmethod
    def open(
        cls,
        name_or_path: str | Path,
        *,
        flows_dir: Path = Path("flows"),
        prompts_dir: Path = Path("prompts"),
        model: ChatModel | None = None,
        call: CallInfo | None = None,
        today: Callable[[], date] = date.today,
    ) -> FlowRunner:
        """Load a flow by name (from ``flows_dir``) or by file path, checked like the server."""
        env = make_environment(prompts_dir, VOICE_FILTERS)
        path = Path(name_or_path)
        if path.suffix in (".yaml", ".yml"):
            flows_dir = path.parent
        registry = FlowRegistry(flows_dir, env, prompts_dir)
        errors = registry.load_all()
        name = path.stem if path.suffix in (".yaml", ".yml") else str(name_or_path)
        flow = registry.get(name)
        if flow is None:
            broken = [e for e in errors if name in str(e)] or errors
            if broken:
                raise AuthoringErrors(broken)
            raise LookupError(f"no flow named {name!r} in {flows_dir}")
        return cls(flow, model, call=call, today=today)

    @property
    def state(self) -> str:
        """The state the call is in."""
        return self.conversation.state

    @property
    def slots(self) -> dict[str, Any]:
        """The slots filled so far."""
        return dict(self.conversation.slots)

    def start(self) -> AgentReply:
        """The greeting (begin message)."""
        greeting = self.conversation.greeting(self.call)
        self._record_path(0)
        if greeting.text:
            self.transcript.append(Utterance("agent", greeting.text))
        return AgentReply(greeting.text, greeting.actions)

    async def say(self, text: str) -> AgentReply:
        """The caller says ``text``; the agent answers."""
        self.transcript.append(Utterance("user", text))
        return await self._turn(reminder=False)

    async def silence(self) -> AgentReply:
        """The caller stays quiet (the platform asks for a reminder)."""
        return await self._turn(reminder=True)

    async def _turn(self, reminder: bool) -> AgentReply:
        self.turns += 1
        before = len(self.conversation.path)
        turn = Turn(self.turns, tuple(self.transcript), self.call, reminder)
        reply = AgentReply()
        pieces: list[str] = []
        try:
            async for part in self.conversation.respond(turn):
                if isinstance(part, Speech):
                    pieces.append(part.text)
                elif isinstance(part, Actions):
                    reply.actions = reply.actions | part
                else:
                    reply.events.append(part)
        except Exception as exc:  # the server would log it and speak the fallback line
            reply.error = f"{type(exc).__name__}: {exc}"
        reply.text = "".join(pieces)
        if reply.text:
            self.transcript.append(Utterance("agent", reply.text))
        self._record_path(before)
        return reply

    def _record_path(self, start: int) -> None:
        path = self.conversation.path
        previous = self.states[-1] if self.states else None
        for state in path[start:]:
            if previous is not None and previous != state:
                self.edges.append((previous, state))
            self.states.append(state)
            previous = state

    def close(self) -> None:
        """End the call (frees its place in the flow's machine)."""
        self.conversation.close()


class _SingleFlow:
    """A registry of exactly one compiled flow (what the runner's agent chooses from)."""

    def __init__(self, flow: CompiledFlow) -> None:
        self.flow = flow
        self.flows_dir = flow.loaded.path.parent

    def get(self, name: str) -> CompiledFlow | None:
        return self.flow if name == self.flow.name else None

    def names(self) -> list[str]:
        return [self.flow.name]

    def broken(self) -> dict[Path, Any]:
        return {}
