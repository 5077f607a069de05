"""One call's run through a flow, from turn to turn.

The conversation binds the call to a flow (the one it names, or the default), keeps its
:class:`~engine.flow.memory.CallMemory` between turns and runs each turn
(``response_required``) as a :class:`~engine.flow.turn.FlowTurn`, which carries the turn's plan
out state by state.

A turn that is superseded is undone: the memory is put back as it was before the turn, so the
re-asked turn starts from the same place and no slot or move is applied twice.

For the call log, each finished turn leaves a trace (:mod:`engine.flow.trace`): what was
understood and by whom, the states entered and why, the model's requests.

A call can move to another process (:meth:`FlowConversation.snapshot`,
:meth:`FlowConversation.resumed`, :mod:`engine.flow.persist`). Where that process lacks the
call's flow version it goes on with the newest version from the same state; where that state is
gone, the next turn takes the call to the flow's give-up state, or ends it.

A snapshot is saved in the background, after the words: a process killed right after an
answer leaves the call as it was before that turn, while the platform heard the answer and
goes on. Its transcript holds every caller line, so the first turn of a resumed call takes
the caller's answers it has not taken (:func:`untaken`), in order and silently, before the new
one: nothing the caller said is lost, and nothing is asked twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import structlog

from engine.agent import CallInfo, CallSummary, Greeting, Part, Speech, Turn, TurnTrace
from engine.errors import RuntimeFault
from engine.protocol import CallControl, RawTranscript, Utterance
from engine.templates import render

from . import asking, effects, persist
from .actions import ActionRunner
from .compile import CompiledFlow
from .machine import Position
from .memory import CallMemory
from .prompting import SystemPrompts
from .services import FlowServices
from .trace import ActionLog, TurnTracer, summarize
from .turn import FlowTurn
from .view import template_view

log = structlog.get_logger("dialplan.conversation")


class NoFlow(RuntimeFault):
    """No flow could be chosen for a call."""


class FlowConversation:
    """A :class:`~engine.agent.Conversation` driven by a flow."""

    def __init__(self, call: CallInfo, services: FlowServices) -> None:
        self.call = call
        self.services = services
        self.flow: CompiledFlow | None = None
        self.memory = CallMemory(state="")
        self.runner: ActionRunner | None = None
        self._sensitive: frozenset[str] = frozenset()
        self._tracer = TurnTracer("", self._sensitive)
        self._trace: TurnTrace | None = None
        self._actions = ActionLog()
        self._gave_up = False
        self._position: Position | None = None
        self._settled: CallMemory | None = None  # the memory before the turn under way
        self._lost: str | None = None  # why the call cannot go on where it was
        self._catch_up = False  # resumed: take the caller's untaken answers first
        self._prompts = SystemPrompts()
        if call.flow is not None:
            self._bind(call)

    @classmethod
    def resumed(
        cls,
        call: CallInfo,
        services: FlowServices,
        flow: CompiledFlow | None,
        saved: persist.Saved,
    ) -> FlowConversation:
        """Go on with a call from its snapshot, on ``flow`` (``None``: no version of it here).

        ``flow`` may be a newer version than the call started on: the call goes on from its
        state if that still exists; otherwise its next turn goes to the flow's give-up state
        (or, without one, ends the call).
        """
        conversation = cls(replace(call, flow=None), services)
        conversation.call = call
        conversation._catch_up = True
        conversation._gave_up = saved.gave_up
        conversation._actions.restore(saved.actions)
        conversation.memory = saved.memory
        if flow is None:
            conversation._lost = f"flow {saved.flow!r} is not loaded here"
            return conversation
        conversation.flow = flow
        conversation._sensitive = frozenset(n for n, s in flow.slots.items() if s.sensitive)
        conversation.runner = services.actions(call.call_id, flow.actions)
        conversation.runner.remember(saved.done)
        memory = conversation.memory
        memory.returns = [state for state in memory.returns if state in flow.spec.states]
        position = conversation._position = flow.machine.add(call.call_id)
        if memory.state in flow.spec.states:
            flow.machine.restore(position, memory.state)
        else:
            conversation._lost = f"state {memory.state!r} is not in this version of the flow"
        return conversation

    # -- binding to a flow -----------------------------------------------------------------

    def _bind(self, call: CallInfo) -> CompiledFlow:
        self.call = call  # the details may have arrived since
        if self.flow is None:
            flow = self.services.choose(call)
            if flow is None:
                raise NoFlow(f"no flow for call {call.call_id} (none named, no default)")
            self.flow = flow
            self._position = flow.machine.add(call.call_id)
            start = self._position.state
            self.memory = CallMemory(state=start, path=[start], visits={start: 1})
            self.runner = self.services.actions(call.call_id, flow.actions)
            self._sensitive = frozenset(name for name, s in flow.slots.items() if s.sensitive)
            log.info("flow.bound", call_id=call.call_id, flow=flow.name, version=flow.version)
        return self.flow

    @property
    def wants_call_details(self) -> bool:
        """Wait for call details when the flow comes from metadata or the greeting uses them."""
        return self.flow is None or self.flow.begin_uses_call

    @property
    def state(self) -> str:
        """The name of the state the call is in."""
        return self.memory.state

    def close(self) -> None:
        """The call is over: release its place in the flow's machine."""
        if self.flow is not None and self._position is not None:
            self.flow.machine.remove(self._position)
            self._position = None

    # -- the Conversation interface --------------------------------------------------------

    def greeting(self, call: CallInfo) -> Greeting:
        """The flow's ``begin`` line; the call is then in the start state."""
        if self._lost is not None and self.flow is None:
            return Greeting("")  # a resumed call whose flow is gone: its next turn ends it
        flow = self._bind(call)
        if not flow.spec.begin:
            return Greeting("")
        return Greeting(render(flow.template("begin"), self._view()))

    def observe(self, transcript: RawTranscript, turntaking: str | None) -> None:
        """Nothing to fold: each request carries the whole transcript."""

    async def respond(self, turn: Turn) -> AsyncIterator[Part]:
        """Run one turn; undone if it is superseded before it finishes, or fails.

        A failed turn (a line that cannot be rendered, a model that fails) leaves the call
        where it was: the caller hears the fallback line ("could you say that again?"), and
        the next answer is read where it was asked, never as the answer to a line that was
        never heard ("yes" to a read-back that failed must not book).
        """
        if self._lost is None:
            self._bind(turn.call)
        before = self._settled = self.memory.copy()
        tracer = self._tracer = TurnTracer(self.memory.state, self._sensitive)
        self._trace = None
        try:
            async for part in effects.spaced(self._turn(turn)):
                yield part
        except (asyncio.CancelledError, GeneratorExit):
            self._restore(before)
            self._settled = None
            raise
        except Exception:
            self._restore(before)
            self._settled = None
            self._finish_turn(tracer, turn)
            raise
        self._settled = None
        self._finish_turn(tracer, turn)

    def _finish_turn(self, tracer: TurnTracer, turn: Turn) -> None:
        # The caller's words up to this request are taken, whether the turn went well or not
        # (after a failure the caller heard the fallback line and speaks again).
        self.memory.heard = len(turn.transcript)
        self._catch_up = False
        self._trace = tracer.finish(self.memory.state)
        self._gave_up = self._gave_up or tracer.gave_up

    # -- what the call log keeps -----------------------------------------------------------

    def turn_trace(self) -> TurnTrace | None:
        """What the last finished turn did (``None`` if it was superseded)."""
        return self._trace

    def summary(self) -> CallSummary:
        """The call so far: its flow, slots, path and actions (sensitive values in clear)."""
        return summarize(self.flow, self.memory, self._actions, gave_up=self._gave_up)

    def snapshot(self) -> dict[str, Any]:
        """The call as of its last finished turn, for another process (see :mod:`.persist`)."""
        if self.flow is None:
            return {}  # not bound to a flow yet: nothing to carry but the call itself
        assert self.runner is not None
        memory = self._settled if self._settled is not None else self.memory
        return persist.write(
            self.flow, memory, self.runner.done(), self._actions.by_id(), self._gave_up
        )

    def _restore(self, memory: CallMemory) -> None:
        self.memory = memory
        if self.flow is None or self._position is None:
            return
        if memory.state not in self.flow.spec.states:  # a give-up turn of a moved call, undone
            self._lost = self._lost or f"state {memory.state!r} is not in this version of the flow"
            return
        self.flow.machine.restore(self._position, memory.state)

    # -- a turn ----------------------------------------------------------------------------

    def _turn(self, turn: Turn) -> AsyncIterator[Part]:
        why = self._lost
        if why is None:
            if self._catch_up and self.memory.heard is not None:
                return self._caught_up(turn)
            return self._steps().run(turn)
        target = persist.give_up_state(self.flow) if self.flow is not None else None
        log.warning("flow.cannot_go_on", call_id=self.call.call_id, why=why, to=target)
        if target is None:
            return self._cannot_go_on()
        self._lost = None  # (a superseded turn puts the memory back: lost again)
        return self._steps().resume_at(target, why, turn)

    def _steps(self) -> FlowTurn:
        flow, position, runner = self.flow, self._position, self.runner
        assert flow is not None and position is not None and runner is not None  # bound
        return FlowTurn(
            self.call, self.services, flow, position, self.memory, runner, self._tracer,
            self._actions, self._prompts,
        )  # fmt: skip

    async def _caught_up(self, turn: Turn) -> AsyncIterator[Part]:
        """``turn``, after the caller's answers this call has not taken (see the module).

        Each is run as the turn it was, with the transcript as it stood then; what it said is
        not said again (the caller heard it from the process that answered), and what it did
        (actions, voice settings) is kept, actions once each as always. It is one turn for the
        call log: its trace holds what each answer was understood as, and how many there were.
        """
        missed = untaken(turn.transcript, self.memory.heard or 0)
        for end in missed:
            earlier = replace(turn, transcript=turn.transcript[:end], reminder=False)
            async for part in self._steps().run(earlier):
                if not isinstance(part, Speech | CallControl):
                    yield part
            self.memory.heard = end
        if missed:
            self._tracer.caught_up = len(missed)
            log.info("flow.caught_up", call_id=self.call.call_id, answers=len(missed))
        async for part in self._steps().run(turn):
            yield part

    async def _cannot_go_on(self) -> AsyncIterator[Part]:
        """End the call: this host cannot go on with it (and every later turn ends it too)."""
        yield CallControl(end_call=True)
        yield Speech(asking.CANNOT_GO_ON)

    def _view(self) -> dict[str, Any]:
        """What the ``begin`` template sees."""
        assert self.flow is not None
        return template_view(self.flow, self.memory.state, self.memory.slots, self.call)


def untaken(transcript: tuple[Utterance, ...], heard: int) -> list[int]:
    """Where the caller's answers after ``heard`` end, those an agent line followed.

    An answer is the caller's lines between two agent lines; one that an agent line follows
    was answered (by a process whose turn this call lost). The caller's last lines, which no
    agent line follows yet, are the request's own. Each end is a transcript length: the
    transcript as it stood when that answer was asked about.
    """
    ends: list[int] = []
    answering = False
    for index in range(max(heard, 0), len(transcript)):
        utterance = transcript[index]
        if utterance.role == "user" and utterance.content.strip():
            answering = True
        elif utterance.role == "agent" and answering:
            ends.append(index)
            answering = False
    return ends
