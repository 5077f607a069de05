"""One turn of a flow call: its plan carried out, state by state.

:func:`engine.flow.decide.plan` says what the caller's words mean and what to do; a
:class:`FlowTurn` stores the values understood in the call's
:class:`~engine.flow.memory.CallMemory` and carries the plan out: entering a state runs its
actions and sends its voice settings (:mod:`engine.flow.effects`), then speaks its ``say`` line
or lets the model speak its ``prompt`` (:mod:`engine.flow.speaking`), and follows any way out
that is already open, all in the same response. When the rules cannot settle a turn and a model
is configured, the model gets it with the state's tools (:mod:`engine.flow.tools`) or reads the
answer (:mod:`engine.flow.extraction`). Every step is told to the turn's tracer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import structlog

from engine.agent import MASK, CallInfo, Part, Speech, Turn
from engine.protocol import NO_CONTROL, CallControl
from engine.templates import render
from engine.templates.spoken import Hidden

from . import asking, decide, effects, extraction, speaking
from .actions import ActionRunner
from .compile import CompiledFlow
from .machine import Position
from .memory import CallMemory
from .prompting import SystemPrompts
from .services import FlowServices
from .spec import Transition
from .tools import ToolOutcome, ToolTable
from .trace import ActionLog, TurnTracer
from .view import template_view

log = structlog.get_logger("dialplan.conversation")

MAX_HOPS = 8  # states entered in one turn; a loop in a flow stops here instead of spinning


class FlowTurn:
    """One turn of a call bound to ``flow``, moving ``memory`` (the call's, changed in place)."""

    def __init__(
        self,
        call: CallInfo,
        services: FlowServices,
        flow: CompiledFlow,
        position: Position,
        memory: CallMemory,
        runner: ActionRunner,
        tracer: TurnTracer,
        actions: ActionLog,
        prompts: SystemPrompts | None = None,
    ) -> None:
        self.call = call
        self.services = services
        self.flow = flow
        self.position = position
        self.memory = memory
        self.runner = runner
        self.tracer = tracer
        self.actions = actions
        self.prompts = prompts
        self._sensitive = frozenset(n for n, spec in flow.slots.items() if spec.sensitive)
        self._masking = False
        self._today: date | None = None

    async def run(self, turn: Turn) -> AsyncIterator[Part]:
        """The turn: what the caller's words mean, and what follows from it."""
        flow, memory = self.flow, self.memory
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
            pending=memory.pending,
            fixing=memory.fixing,
            stopping=memory.stopping,
        )
        memory.slots.update(understood.values)
        self.tracer.planned(plan, understood)
        for name in understood.removed:
            memory.slots.pop(name, None)
        if not turn.reminder:
            memory.silences = 0
            memory.held = False
            memory.pending = {}
            memory.stopping = False
            if not isinstance(plan, decide.NotUnderstood | decide.Repair):
                memory.fixing = False
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
                if self.flow.state(self.state).prompt is not None and not self._line("reask"):
                    async for part in self._speak(turn):  # the model asks for the rest
                        yield part
                else:
                    yield self._speech(lambda: self._line("reask") or self._question())
            case decide.AskModel(errors=errors):
                async for part in self._model_turn(turn, errors):
                    yield part
            case decide.NotUnderstood(errors=errors):
                async for part in self._not_understood(turn, errors):
                    yield part
            case decide.Repair(name=name):
                async for part in self._repair(name, turn):
                    yield part
            case decide.Clarify(slot=slot, value=value):
                memory.pending = {slot: value}
                spoken = flow.slot_types[slot].say(value, flow.slots[slot])
                yield self._speech(
                    lambda: self._repair_line("confirm", value=self._shown(slot, spoken), slot=slot)
                )
            case decide.AskToStop():
                memory.stopping = True
                self.tracer.intent("cancel", "parser")
                yield self._speech(lambda: self._repair_line("cancel", "ask"))
            case decide.Rejected():
                yield self._speech(lambda: asking.reask(self._line("reask") or self._question()))
            case decide.AskWhich():
                memory.fixing = True
                yield self._speech(lambda: self._fix_question())
            case decide.Fix(slot=slot):
                async for part in self._fix(slot, turn):
                    yield part

    async def resume_at(self, target: str, why: str, turn: Turn) -> AsyncIterator[Part]:
        """A moved call whose state this flow version lacks: on to ``target`` (giving up)."""
        memory = self.memory
        self.tracer.gave_up = True
        self.tracer.why(f"gave up: {why}")
        self.tracer.enter(memory.state, target)
        self.flow.machine.restore(self.position, target)  # no edge leads out of a state now gone
        memory.state, memory.retries, memory.silences = target, 0, 0
        memory.visits[target] = memory.visits.get(target, 0) + 1
        memory.entered_at = len(turn.transcript)
        memory.path.append(target)
        async for part in self._on_enter(turn):
            yield part

    async def _remind(self, turn: Turn) -> AsyncIterator[Part]:
        """The state's reminder; after too many in a row, the state gives up."""
        flow, memory = self.flow, self.memory
        if memory.held:
            memory.held = False  # asked to hold on: this silence is theirs, and not counted
            yield self._speech(lambda: self._repair_line("hold", "waiting"))
            return
        state = flow.state(memory.state)
        memory.silences += 1
        limit = flow.spec.reminders if state.reminders is None else state.reminders
        if memory.silences > limit:
            log.info("flow.give_up", call_id=self.call.call_id, state=self.state, why="silence")
            async for part in self._give_up(turn, asking.GONE_QUIET):
                yield part
            return
        yield self._speech(
            lambda: self._line("reminder") or f"{asking.STILL_THERE} {self._question()}".strip()
        )

    async def _not_understood(self, turn: Turn, errors: tuple[str, ...]) -> AsyncIterator[Part]:
        state = self.flow.state(self.state)
        self.memory.retries += 1
        if self.memory.retries > state.retries:
            log.info("flow.give_up", call_id=self.call.call_id, state=self.state, why="retries")
            async for part in self._give_up(turn, asking.CANNOT_GO_ON):
                yield part
            return
        if self.memory.fixing:
            yield self._speech(lambda: asking.reask(self._fix_question(again=True), errors))
            return
        if state.prompt is not None and not self._line("reask"):
            yield self._speech(lambda: asking.reask("", errors))  # the model asks in its own words
            async for part in self._speak(turn):
                yield part
            return
        yield self._speech(lambda: asking.reask(self._line("reask") or self._question(), errors))

    async def _give_up(self, turn: Turn, goodbye: str) -> AsyncIterator[Part]:
        """To the state's give-up state (its own or the flow's); with none, end the call."""
        self.tracer.gave_up = True
        self.tracer.why("gave up")
        target = self.flow.spec.give_up_target(self.state)
        if target is not None:
            async for part in self._enter_chain(target, turn):
                yield part
            return
        yield CallControl(end_call=True)
        yield Speech(goodbye)

    # -- repair ------------------------------------------------------------------------------

    async def _repair(self, name: str, turn: Turn) -> AsyncIterator[Part]:
        """A built-in repair the caller asked for (see :mod:`engine.flow.repair`)."""
        flow, memory = self.flow, self.memory
        self.tracer.intent(name, "parser")
        log.info("flow.repair", call_id=self.call.call_id, repair=name, state=self.state)
        line = self._repair_line(name)
        if name == "repeat":
            if line:
                yield self._speech(lambda: self._repair_line(name))
            if memory.fixing:
                yield self._speech(lambda: self._fix_question())
                return
            state = self.flow.state(self.state)
            if state.say is not None and not state.read_back:
                yield self._speech(lambda: self._question())  # not "Thanks, Dana." again
                return
            async for part in self._speak(turn):
                yield part
        elif name == "hold":
            memory.held = True
            yield self._speech(lambda: self._repair_line(name))
        elif name == "cancel":
            memory.cancelled = True
            self.tracer.why("repair cancel")
            if flow.repairs.cancel_to is not None:
                async for part in self._enter_chain(flow.repairs.cancel_to, turn):
                    yield part
                return
            yield CallControl(end_call=True)
            yield self._speech(lambda: self._repair_line(name))
        else:  # a person
            target = flow.repairs.human_to
            if target is None:
                yield self._speech(
                    lambda: (
                        f"{self._repair_line('human', 'unavailable')} {self._question()}".strip()
                    )
                )
                return
            if line:
                yield self._speech(lambda: self._repair_line(name))
            self.tracer.why("repair human")
            async for part in self._enter_chain(target, turn):
                yield part

    def _repair_line(self, name: str, key: str = "say", **extra: Any) -> str:
        template = self.flow.templates.get(("repair", name, key))
        return render(template, {**self._view(), **extra}) if template is not None else ""

    def _fix_question(self, *, again: bool = False) -> str:
        """Which item of the read-back to fix: "your name, your date of birth, or the reason".

        ``again``: asked again, as a plain question the re-ask apologises for once.
        """
        flow = self.flow
        labels = [
            _item(flow.slots[name].spoken_label(name)) for name in flow.state(self.state).read_back
        ]
        items = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])}, or {labels[-1]}"
        plain = f"What should I fix: {items}?"
        return plain if again else self._repair_line("fix", items=items) or plain

    async def _fix(self, slot: str, turn: Turn) -> AsyncIterator[Part]:
        """Ask for ``slot`` again where it is asked; the call then comes back to the read-back."""
        memory = self.memory
        memory.fixing = False
        memory.slots.pop(slot, None)
        self.tracer.why(f"fix {slot}")
        target = decide.asking_state(self.flow, slot)
        if target is None:  # read back, never asked (set by an action): nothing to ask again
            async for part in self._speak(turn):
                yield part
            return
        async for part in self._enter_chain(target, turn, question_only=True):
            yield part

    def _question(self) -> str:
        """Only the question of the current state's line ("What is your date of birth?")."""
        line = self._line("say")
        return asking.question(line) if line else ""

    async def _global(self, name: str, turn: Turn) -> AsyncIterator[Part]:
        flow = self.flow
        found = [(i, g) for i, g in enumerate(flow.spec.global_intents) if g.intent == name]
        if not found:  # the tool table offers only known intents; be safe all the same
            async for part in self._speak(turn):
                yield part
            return
        index, intent = found[0]
        log.info("flow.global_intent", call_id=self.call.call_id, intent=name, state=self.state)
        if intent.say:
            yield self._speech(lambda: render(flow.template("global", index, "say"), self._view()))
        if intent.to is None:
            async for part in self._speak(turn):  # e.g. "repeat that": the whole line again
                yield part
            return
        if intent.returns and intent.to != self.state:
            self.memory.returns.append(self.state)
        self.tracer.why(f"global intent {name}")
        async for part in self._enter_chain(intent.to, turn):
            yield part

    async def _take(self, transition: Transition, turn: Turn) -> AsyncIterator[Part]:
        """Leave the current state by ``transition`` and enter where it leads."""
        for part in self._leave(transition):
            yield part
        async for part in self._enter_chain(transition.to, turn):
            yield part

    def _leave(self, transition: Transition, *, quiet: bool = False) -> list[Part]:
        """A transition's own line, then the slots it clears: one order on every path.

        The line is rendered before the slots are cleared, so it can still name the value
        being given up ("Sorry, 7 PM is taken"). ``quiet``: passed through again, unsaid.
        """
        parts: list[Part] = []
        self.tracer.leave(transition)
        if transition.say and not quiet:
            index = self.flow.state(self.state).next.index(transition)
            template = self.flow.template("states", self.state, "next", index, "say")
            parts.append(self._speech(lambda: render(template, self._view())))
        for name in transition.clear:
            self.memory.slots.pop(name, None)
        return parts

    async def _enter_chain(
        self, target: str | None, turn: Turn, *, question_only: bool = False
    ) -> AsyncIterator[Part]:
        """Enter ``target`` and keep going while the way out is already open.

        ``question_only``: the first state entered asks only its question (an item asked again
        from a read-back is no new step of the call: "Thanks, Dana." was said already).
        """
        flow, memory = self.flow, self.memory
        hops = 0
        returning = question_only
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
            passing = self._passing_through()
            if not passing:
                async for part in self._on_enter(turn, question_only=returning):
                    yield part
            else:
                async for part in self._enter_effects():
                    yield part
            returning = False
            state = flow.state(memory.state)
            transition = decide.choose(flow, memory.state, self._view(), memory.slots, None)
            if transition is not None:
                # On the way back after a correction, a state passed through again says no
                # more than it did: "For 2, great." was said when the party size was given.
                # Only an acknowledgement of the state's own answer: a guarded way's line
                # says what happened ("Sorry, that table was just taken") and is always said.
                again = (
                    passing and transition.when is None and memory.visits.get(memory.state, 0) > 1
                )
                for part in self._leave(transition, quiet=again):
                    yield part
                target = transition.to
            elif not state.next and not state.terminal and memory.returns:
                target = memory.returns.pop()  # back to where a returning global intent left
                returning = True
                self.tracer.why("return")
            else:
                target = None
        if hops >= MAX_HOPS:
            log.warning("flow.hop_limit", call_id=self.call.call_id, state=self.state)

    def _enter(self, target: str, turn: Turn) -> None:
        flow, memory = self.flow, self.memory
        self.tracer.enter(memory.state, target)
        if target != memory.state:
            flow.machine.move(self.position, target)
        memory.state = target
        memory.retries = 0
        memory.silences = 0
        memory.visits[target] = memory.visits.get(target, 0) + 1
        memory.entered_at = len(turn.transcript)
        memory.path.append(target)
        log.debug("flow.enter", call_id=self.call.call_id, state=target)

    def _passing_through(self) -> bool:
        """Whether the state just entered is passed through without a word of its own.

        Its slots are known already, or a guarded way out is open at once (``when:
        slots.available``): asking its question first would ask what is not needed.
        """
        state = self.flow.state(self.state)
        if state.collect and decide.satisfied(state, self.memory.slots):
            return True
        if state.read_back or state.terminal:
            return False
        transition = decide.choose(self.flow, self.state, self._view(), self.memory.slots, None)
        return transition is not None and transition.when is not None

    async def _on_enter(self, turn: Turn, *, question_only: bool = False) -> AsyncIterator[Part]:
        async for part in self._enter_effects():
            yield part
        state = self.flow.state(self.state)
        if state.collect and decide.satisfied(state, self.memory.slots):
            return  # everything this state asks for is known: skip its question
        if question_only and state.say is not None and not state.terminal:
            # Back from a global intent ("who is this?"): the question, not the whole line.
            yield self._speech(lambda: self._question())
            return
        async for part in self._speak(turn):
            yield part

    async def _enter_effects(self) -> AsyncIterator[Part]:
        """The voice settings and actions of the state just entered."""
        flow, memory = self.flow, self.memory
        update = effects.voice_update(flow, memory.state)
        if update is not None:
            yield update
        for index in range(len(flow.state(memory.state).actions)):
            tool_id = f"{self.call.call_id}:{memory.state}:{index}:{len(memory.path)}"
            parts = effects.run_action(
                flow, memory.state, index, self._view(), self.runner, tool_id, memory.slots
            )
            async for part in parts:
                self.actions.saw(part, memory.state)
                yield part

    async def _speak(self, turn: Turn) -> AsyncIterator[Part]:
        """Speak the current state's line, its call control set first to ride on the words."""
        flow = self.flow
        state = flow.state(self.state)
        control = effects.control(flow, self.state, self._view())
        if control != NO_CONTROL:
            yield control
        if state.say is not None:
            yield self._speech(
                lambda: render(flow.template("states", self.state, "say"), self._view())
            )
        elif state.prompt is not None:
            if self.services.model is None:
                yield self._speech(lambda: self._line("reask") or asking.NO_MODEL)
                return
            model = self.tracer.meter.model(self.services.model)
            parts = speaking.speak(
                model, flow, self.memory, self._view(), turn, None, prompts=self.prompts
            )
            async for part in parts:
                yield part

    def _line(self, key: str) -> str | None:
        return effects.line(self.flow, self.state, key, self._view())

    # -- the model -------------------------------------------------------------------------

    async def _model_turn(self, turn: Turn, errors: tuple[str, ...]) -> AsyncIterator[Part]:
        """The model settles what our rules could not: it reads the answer, or it speaks."""
        flow, memory = self.flow, self.memory
        state = flow.state(self.state)
        assert self.services.model is not None
        model = self.tracer.meter.model(self.services.model)
        outcome = ToolOutcome()
        spoke = False
        if extraction.reads_answer(flow, self.state):
            # The flow speaks its own lines here: the model only reads the caller's answer.
            asked = extraction.asked(self._line("say"))
            parts = extraction.extract(
                model, flow, self.state, turn.transcript, memory.entered_at, asked,
                self.today(), outcome,
            )  # fmt: skip
        else:
            heard = " ".join(u.content for u in turn.transcript if u.role == "user")
            table = ToolTable(flow, state, memory.slots, self.today(), heard)
            parts = speaking.speak(
                model, flow, memory, self._view(), turn, table, outcome, self.prompts
            )
        async for part in parts:
            spoke = spoke or isinstance(part, Speech)
            yield part
        memory.slots.update(outcome.slots)
        self.tracer.slots(outcome.slots, "model")
        self.tracer.refuse(outcome.errors)
        if outcome.intent:
            self.tracer.intent(outcome.intent, "model")
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

    @property
    def state(self) -> str:
        """The name of the state the call is in."""
        return self.memory.state

    def today(self) -> date:
        """Today where the caller is (see :meth:`FlowServices.today_for`), once per turn."""
        if self._today is None:
            self._today = self.services.today_for(self.call, self.flow)
        return self._today

    def _view(self, slots: dict[str, Any] | None = None) -> dict[str, Any]:
        """What templates and guards see (with ``slots`` instead of the memory's, if given).

        While a line is rendered for storage (:meth:`_speech`), sensitive values are hidden.
        """
        memory = self.memory
        slots = memory.slots if slots is None else slots
        if self._masking:
            slots = {
                name: Hidden(MASK) if name in self._sensitive and value is not None else value
                for name, value in slots.items()
            }
        return template_view(self.flow, memory.state, slots, self.call)

    def _speech(self, line: Callable[[], str]) -> Speech:
        """A line to say, rendered twice where the call holds a sensitive value.

        Once as spoken, once for storage with every sensitive value hidden, so no spoken form
        of it (spelled, in digit groups, as a date) reaches the call log, the console or a trace.
        """
        text = line()
        if not any(self.memory.slots.get(name) is not None for name in self._sensitive):
            return Speech(text)
        self._masking = True
        try:
            masked = line()
        finally:
            self._masking = False
        return Speech(text, masked if masked != text else None)

    def _shown(self, slot: str, text: str) -> str:
        """``text`` (a value of ``slot``), hidden while rendering for storage."""
        return Hidden(MASK) if self._masking and slot in self._sensitive else text


def _item(label: str) -> str:
    """A read-back item as the agent names it: "your date of birth", or as its label says."""
    determined = re.match(r"(?:the|your|my|a|an|this|that)\b", label, re.IGNORECASE)
    return label if determined else f"your {label}"
