"""One call's run through a flow: the turn's plan carried out, state by state.

Per turn (``response_required``) the conversation asks :func:`engine.flow.decide.plan` what
the caller's words mean and what to do, stores the values understood in the call's
:class:`~engine.flow.memory.CallMemory`, and carries the plan out: entering a state runs its
actions and sends its voice settings (:mod:`engine.flow.effects`), then speaks its ``say`` line
or lets the model speak its ``prompt`` (:mod:`engine.flow.prompting`), and follows any way out
that is already open, all in the same response. When the rules cannot settle a turn and a model
is configured, the model gets it with the state's tools (:mod:`engine.flow.tools`).

A turn that is superseded is undone: the memory is put back as it was before the turn, so the
re-asked turn starts from the same place and no slot or move is applied twice.

For the call log, each finished turn leaves a trace (:mod:`engine.flow.trace`): what was
understood and by whom, the states entered and why, the model's requests.

A call can move to another process (:meth:`FlowConversation.snapshot`,
:meth:`FlowConversation.resumed`, :mod:`engine.flow.persist`). Where that process lacks the
call's flow version it goes on with the newest version from the same state; where that state is
gone, the next turn takes the call to the flow's give-up state, or ends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from typing import Any

import structlog

from engine.agent import CallInfo, CallSummary, Greeting, Part, Speech, Turn, TurnTrace
from engine.errors import RuntimeFault
from engine.protocol import NO_CONTROL, CallControl, RawTranscript
from engine.templates import render

from . import asking, decide, effects, extraction, persist, speaking
from .actions import ActionRunner
from .compile import CompiledFlow
from .machine import Position
from .memory import CallMemory
from .services import FlowServices
from .spec import Transition
from .tools import ToolOutcome, ToolTable
from .trace import ActionLog, TurnTracer, summarize
from .view import template_view

log = structlog.get_logger("dialplan.conversation")

MAX_HOPS = 8  # states entered in one turn; a loop in a flow stops here instead of spinning


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
        """Run one turn; undone if it is superseded before it finishes."""
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
            self._settled = None
            self._finish_turn(tracer)
            raise
        self._settled = None
        self._finish_turn(tracer)

    def _finish_turn(self, tracer: TurnTracer) -> None:
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

    async def _turn(self, turn: Turn) -> AsyncIterator[Part]:
        if self._lost is not None:
            async for part in self._cannot_go_on(turn):
                yield part
            return
        flow, memory = self._flow(), self.memory
        if not memory.started:
            # The greeting put the call in the start state without entering it properly
            # (a greeting has no room for tools or settings): do that on the first turn.
            memory.started = True
            async for part in self._enter_effects():
                yield part
        plan, understood = decide.plan(
            flow,
            memory.state,
            memory.slots,
            decide.caller_words(turn.transcript),
            reminder=turn.reminder,
            today=self.today(),
            has_model=self.services.model is not None,
            view=self._view,
        )
        memory.slots.update(understood.values)
        self._tracer.planned(plan, understood)
        for name in understood.removed:
            memory.slots.pop(name, None)
        if not turn.reminder:
            memory.silences = 0
        match plan:
            case decide.Remind():
                async for part in self._remind(turn):
                    yield part
            case decide.Ask():
                async for part in self._speak(turn):
                    yield part
            case decide.TakeGlobal(intent=intent):
                async for part in self._global(intent, turn):
                    yield part
            case decide.Correct(target=target):
                parts = self._enter_chain(target, turn) if target else self._speak(turn)
                async for part in parts:
                    yield part
            case decide.Move(transition=transition):
                async for part in self._take(transition, turn):
                    yield part
            case decide.GotIt():
                # Useful, just not what this state asked ("March third" when asked for a
                # name): keep it, say so, and ask again without counting a failed try.
                yield Speech(asking.GOT_IT)
                yield Speech(self._line("reask") or self._question())
            case decide.AskModel(errors=errors):
                async for part in self._model_turn(turn, errors):
                    yield part
            case decide.NotUnderstood(errors=errors):
                async for part in self._not_understood(turn, errors):
                    yield part

    async def _remind(self, turn: Turn) -> AsyncIterator[Part]:
        """The state's reminder; after too many in a row, the state gives up."""
        flow, memory = self._flow(), self.memory
        state = flow.state(memory.state)
        memory.silences += 1
        limit = flow.spec.reminders if state.reminders is None else state.reminders
        if memory.silences > limit:
            log.info("flow.give_up", call_id=self.call.call_id, state=self.state, why="silence")
            async for part in self._give_up(turn, asking.GONE_QUIET):
                yield part
            return
        yield Speech(self._line("reminder") or f"{asking.STILL_THERE} {self._question()}".strip())

    async def _cannot_go_on(self, turn: Turn) -> AsyncIterator[Part]:
        """The call came from a flow version whose state this one lacks: give up, or end."""
        why, flow = self._lost, self.flow
        target = persist.give_up_state(flow) if flow is not None else None
        log.warning("flow.cannot_go_on", call_id=self.call.call_id, why=why, to=target)
        if flow is None or target is None or self._position is None:
            yield CallControl(end_call=True)  # and every later turn ends the call too
            yield Speech(asking.CANNOT_GO_ON)
            return
        memory = self.memory
        self._tracer.gave_up = True
        self._tracer.why(f"gave up: {why}")
        self._tracer.enter(memory.state, target)
        flow.machine.restore(self._position, target)  # no edge leads out of a state now gone
        memory.state, memory.retries, memory.silences = target, 0, 0
        memory.visits[target] = memory.visits.get(target, 0) + 1
        memory.entered_at = len(turn.transcript)
        memory.path.append(target)
        self._lost = None  # (a superseded turn puts the memory back: lost again)
        async for part in self._on_enter(turn):
            yield part

    async def _not_understood(self, turn: Turn, errors: tuple[str, ...]) -> AsyncIterator[Part]:
        state = self._flow().state(self.state)
        self.memory.retries += 1
        if self.memory.retries > state.retries:
            log.info("flow.give_up", call_id=self.call.call_id, state=self.state, why="retries")
            async for part in self._give_up(turn, asking.CANNOT_GO_ON):
                yield part
            return
        if state.prompt is not None and not self._line("reask"):
            yield Speech(asking.reask("", errors))  # the model asks in its own words
            async for part in self._speak(turn):
                yield part
            return
        yield Speech(asking.reask(self._line("reask") or self._question(), errors))

    async def _give_up(self, turn: Turn, goodbye: str) -> AsyncIterator[Part]:
        """To the state's give-up state (its own or the flow's); with none, end the call."""
        self._tracer.gave_up = True
        self._tracer.why("gave up")
        target = self._flow().spec.give_up_target(self.state)
        if target is not None:
            async for part in self._enter_chain(target, turn):
                yield part
            return
        yield CallControl(end_call=True)
        yield Speech(goodbye)

    def _question(self) -> str:
        """Only the question of the current state's line ("What is your date of birth?")."""
        line = self._line("say")
        return asking.question(line) if line else ""

    async def _global(self, name: str, turn: Turn) -> AsyncIterator[Part]:
        flow = self._flow()
        found = [(i, g) for i, g in enumerate(flow.spec.global_intents) if g.intent == name]
        if not found:  # the tool table offers only known intents; be safe all the same
            async for part in self._speak(turn):
                yield part
            return
        index, intent = found[0]
        log.info("flow.global_intent", call_id=self.call.call_id, intent=name, state=self.state)
        if intent.say:
            yield Speech(render(flow.template("global", index, "say"), self._view()))
        if intent.to is None:
            async for part in self._speak(turn):  # e.g. "repeat that": the whole line again
                yield part
            return
        if intent.returns and intent.to != self.state:
            self.memory.returns.append(self.state)
        self._tracer.why(f"global intent {name}")
        async for part in self._enter_chain(intent.to, turn):
            yield part

    async def _take(self, transition: Transition, turn: Turn) -> AsyncIterator[Part]:
        """Leave the current state by ``transition`` and enter where it leads."""
        for part in self._leave(transition):
            yield part
        async for part in self._enter_chain(transition.to, turn):
            yield part

    def _leave(self, transition: Transition) -> list[Part]:
        """A transition's own line, then the slots it clears: one order on every path.

        The line is rendered before the slots are cleared, so it can still name the value
        being given up ("Sorry, 7 PM is taken").
        """
        parts: list[Part] = []
        self._tracer.leave(transition)
        if transition.say:
            index = self._flow().state(self.state).next.index(transition)
            template = self._flow().template("states", self.state, "next", index, "say")
            parts.append(Speech(render(template, self._view())))
        for name in transition.clear:
            self.memory.slots.pop(name, None)
        return parts

    async def _enter_chain(self, target: str | None, turn: Turn) -> AsyncIterator[Part]:
        """Enter ``target`` and keep going while the way out is already open."""
        flow, memory = self._flow(), self.memory
        hops = 0
        returning = False
        while target is not None and hops < MAX_HOPS:
            hops += 1
            if decide.visited_enough(flow, self.memory.visits, target):
                # "Seven, then" for the third time: the loop ends where giving up leads.
                log.info("flow.give_up", call_id=self.call.call_id, state=target, why="visits")
                given_up = flow.spec.give_up_target(target)
                if given_up is None or decide.visited_enough(flow, self.memory.visits, given_up):
                    yield CallControl(end_call=True)
                    yield Speech(asking.CANNOT_GO_ON)
                    return
                target = given_up
            self._enter(target, turn)
            async for part in self._on_enter(turn, question_only=returning):
                yield part
            returning = False
            state = flow.state(memory.state)
            transition = decide.choose(flow, memory.state, self._view(), memory.slots, None)
            if transition is not None:
                for part in self._leave(transition):
                    yield part
                target = transition.to
            elif not state.next and not state.terminal and memory.returns:
                target = memory.returns.pop()  # back to where a returning global intent left
                returning = True
                self._tracer.why("return")
            else:
                target = None
        if hops >= MAX_HOPS:
            log.warning("flow.hop_limit", call_id=self.call.call_id, state=self.state)

    def _enter(self, target: str, turn: Turn) -> None:
        flow, memory = self._flow(), self.memory
        assert self._position is not None
        self._tracer.enter(memory.state, target)
        if target != memory.state:
            flow.machine.move(self._position, target)
        memory.state = target
        memory.retries = 0
        memory.silences = 0
        memory.visits[target] = memory.visits.get(target, 0) + 1
        memory.entered_at = len(turn.transcript)
        memory.path.append(target)
        log.debug("flow.enter", call_id=self.call.call_id, state=target)

    async def _on_enter(self, turn: Turn, *, question_only: bool = False) -> AsyncIterator[Part]:
        async for part in self._enter_effects():
            yield part
        state = self._flow().state(self.state)
        if state.collect and decide.satisfied(state, self.memory.slots):
            return  # everything this state asks for is known: skip its question
        if question_only and state.say is not None:
            # Back from a global intent ("who is this?"): the question, not the whole line.
            yield Speech(self._question())
            return
        async for part in self._speak(turn):
            yield part

    async def _enter_effects(self) -> AsyncIterator[Part]:
        """The voice settings and actions of the state just entered."""
        flow, memory = self._flow(), self.memory
        update = effects.voice_update(flow, memory.state)
        if update is not None:
            yield update
        assert self.runner is not None
        for index in range(len(flow.state(memory.state).actions)):
            tool_id = f"{self.call.call_id}:{memory.state}:{index}:{len(memory.path)}"
            parts = effects.run_action(
                flow, memory.state, index, self._view(), self.runner, tool_id, memory.slots
            )
            async for part in parts:
                self._actions.saw(part, memory.state)
                yield part

    async def _speak(self, turn: Turn) -> AsyncIterator[Part]:
        """Speak the current state's line, its call control set first to ride on the words."""
        flow = self._flow()
        state = flow.state(self.state)
        control = effects.control(flow, self.state, self._view())
        if control != NO_CONTROL:
            yield control
        if state.say is not None:
            yield Speech(render(flow.template("states", self.state, "say"), self._view()))
        elif state.prompt is not None:
            if self.services.model is None:
                yield Speech(self._line("reask") or asking.NO_MODEL)
                return
            model = self._tracer.meter.model(self.services.model)
            parts = speaking.speak(model, flow, self.memory, self._view(), turn, None)
            async for part in parts:
                yield part

    def _line(self, key: str) -> str | None:
        return effects.line(self._flow(), self.state, key, self._view())

    # -- the model -------------------------------------------------------------------------

    async def _model_turn(self, turn: Turn, errors: tuple[str, ...]) -> AsyncIterator[Part]:
        """The model settles what our rules could not: it reads the answer, or it speaks."""
        flow, memory = self._flow(), self.memory
        state = flow.state(self.state)
        assert self.services.model is not None
        model = self._tracer.meter.model(self.services.model)
        outcome = ToolOutcome()
        spoke = False
        if state.say is not None and extraction.extraction_tool(flow, self.state):
            # The flow speaks its own lines here: the model only reads the caller's answer.
            asked = self._question() or self._line("say") or ""
            parts = extraction.extract(
                model, flow, self.state, turn.transcript, memory.entered_at, asked,
                self.today(), outcome,
            )  # fmt: skip
        else:
            table = ToolTable(flow, state, memory.slots, self.today())
            parts = speaking.speak(model, flow, memory, self._view(), turn, table, outcome)
        async for part in parts:
            spoke = spoke or isinstance(part, Speech)
            yield part
        memory.slots.update(outcome.slots)
        self._tracer.slots(outcome.slots, "model")
        self._tracer.refuse(outcome.errors)
        if outcome.intent:
            self._tracer.intent(outcome.intent, "model")
        transition = decide.choose(flow, self.state, self._view(), memory.slots, None)
        if transition is None and outcome.intent:
            transition = next((t for t in state.next if t.intent == outcome.intent), None)
            if transition is None:  # a global intent the model recognised
                async for part in self._global(outcome.intent, turn):
                    yield part
                return
        if transition is not None:
            async for part in self._take(transition, turn):
                yield part
            return
        if not spoke:
            async for part in self._not_understood(turn, tuple(outcome.errors) or errors):
                yield part

    # -- helpers ---------------------------------------------------------------------------

    def _flow(self) -> CompiledFlow:
        assert self.flow is not None
        return self.flow

    def today(self) -> date:
        """Today where the caller is (see :meth:`FlowServices.today_for`)."""
        return self.services.today_for(self.call, self.flow)

    def _view(self, slots: dict[str, Any] | None = None) -> dict[str, Any]:
        """What templates and guards see (with ``slots`` instead of the memory's, if given)."""
        memory = self.memory
        return template_view(
            self._flow(), memory.state, memory.slots if slots is None else slots, self.call
        )
