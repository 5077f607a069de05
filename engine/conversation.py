"""One call's run through a flow: understanding the caller, moving between states, speaking.

A turn (``response_required``) goes like this:

1. The caller's words since the agent last spoke are read from the event's transcript.
2. Global intents that clearly match ("talk to a person") win.
3. Our parsers fill slots: the current state's slots from the answer, any other slot from
   strong evidence (an email, a date with a month name, "my name is ...").
4. Transitions: guards over the slots first, then intents our code recognises, then a plain
   way out once the state's slots are filled.
5. Only when that settles nothing, and a model is configured, the model gets the turn, with
   tools to set slots and choose intents; our code checks every value it gives.
6. Otherwise the state asks again; after its retry limit the call goes to ``on_give_up``.

Entering a state runs its actions, sends its voice settings, then speaks its ``say`` line (or
lets the model speak its ``prompt``) and follows any way out that is already open, all in the
same response. A turn that is superseded is undone, so the re-asked turn starts from the same
place and no slot or move is applied twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from . import state_actions
from .agent import CallInfo, Greeting, Part, Speech, Turn
from .context import chat_messages
from .errors import RuntimeFault
from .intents import first_match
from .llm import TextDelta, ToolCallRequest
from .machine import Position
from .prompts import render
from .protocol import (
    NO_ACTIONS,
    Actions,
    RawTranscript,
    ToolCallInvocation,
    ToolCallResult,
    UpdateAgent,
    Utterance,
)
from .slots import slot_type
from .spec import GlobalIntent, State, Transition
from .tools import ToolOutcome, apply_tool_call, offered_tools

if TYPE_CHECKING:
    from .flows import CompiledFlow, FlowAgent

log = structlog.get_logger("dialplan.conversation")

MAX_HOPS = 8  # states entered in one turn; a loop in a flow stops here instead of spinning
NOT_UNDERSTOOD = "Sorry, I didn't catch that."
GOT_IT = "Got it."
NO_MODEL = "Sorry, I can't help with that on this line."
STILL_THERE = "Are you still there?"
TOOL_GUIDE = (
    "Use the set_ tools to record what the caller told you, and the intent_ tools when the "
    "caller clearly wants one of those things. Speak in short plain sentences for the phone: "
    "no lists, markdown or symbols."
)


class NoFlow(RuntimeFault):
    """No flow could be chosen for a call."""


class FlowConversation:
    """A :class:`~engine.agent.Conversation` driven by a flow."""

    def __init__(self, agent: FlowAgent, call: CallInfo) -> None:
        self.agent = agent
        self.call_id = call.call_id
        self.flow: CompiledFlow | None = None
        self.position: Position | None = None
        self.slots: dict[str, Any] = {}
        self.retries = 0
        self.returns: list[str] = []
        self.path: list[str] = []
        self.entered_at = 0  # transcript length when the current state was entered
        self.runner = agent.runner_factory(call.call_id)
        self._started = False  # the start state's settings and actions have run
        self._details: Mapping[str, Any] = call.details
        if call.flow is not None:
            self._bind(call)

    # -- binding to a flow -----------------------------------------------------------------

    def _bind(self, call: CallInfo) -> CompiledFlow:
        self._details = call.details
        if self.flow is None:
            flow = self.agent.choose(call)
            if flow is None:
                raise NoFlow(f"no flow for call {call.call_id} (none named, no default)")
            self.flow = flow
            self.position = flow.machine.add(call.call_id)
            self.path.append(self.position.state)
            log.info("flow.bound", call_id=call.call_id, flow=flow.name, version=flow.version)
        return self.flow

    @property
    def wants_call_details(self) -> bool:
        """Wait for call details when the flow comes from metadata or the greeting uses them."""
        return self.flow is None or self.flow.begin_uses_call

    @property
    def state(self) -> str:
        """The name of the state the call is in."""
        assert self.position is not None
        return self.position.state

    def _spec(self, name: str | None = None) -> State:
        assert self.flow is not None
        state: State = self.flow.spec.states[name or self.state]
        return state

    def close(self) -> None:
        """The call is over: release its place in the flow's machine."""
        if self.flow is not None and self.position is not None:
            self.flow.machine.remove(self.position)
            self.position = None

    # -- the Conversation interface --------------------------------------------------------

    def greeting(self, call: CallInfo) -> Greeting:
        """The flow's ``begin`` line; the call is then in the start state."""
        flow = self._bind(call)
        if not flow.spec.begin:
            return Greeting("")
        return Greeting(render(flow.template("begin"), self._context()))

    def observe(self, transcript: RawTranscript, turntaking: str | None) -> None:
        """Nothing to fold: each request carries the whole transcript."""

    async def respond(self, turn: Turn) -> AsyncIterator[Part]:
        """Run one turn; undone if it is superseded before it finishes."""
        self._bind(turn.call)
        snapshot = self._snapshot()
        try:
            async for part in _spaced(self._turn(turn)):
                yield part
        except (asyncio.CancelledError, GeneratorExit):
            self._restore(snapshot)
            raise

    def _snapshot(self) -> tuple[Any, ...]:
        return (
            self.state,
            dict(self.slots),
            self.retries,
            list(self.returns),
            len(self.path),
            self._started,
        )

    def _restore(self, snapshot: tuple[Any, ...]) -> None:
        state, slots, retries, returns, path_length, started = snapshot
        assert self.flow is not None and self.position is not None
        self.flow.machine.restore(self.position, state)
        self.slots, self.retries, self.returns = slots, retries, returns
        self._started = started
        del self.path[path_length:]

    # -- a turn ----------------------------------------------------------------------------

    async def _turn(self, turn: Turn) -> AsyncIterator[Part]:
        if not self._started:
            # The greeting put the call in the start state without entering it properly
            # (a greeting has no room for tools or settings): do that on the first turn.
            self._started = True
            async for part in self._enter_effects():
                yield part
        state = self._spec()
        if turn.reminder:
            yield Speech(self._line("reminder") or STILL_THERE)
            return
        said = _caller_words(turn.transcript)
        if (
            said is None
        ):  # nothing new from the caller (agent-first call): ask this state's question
            async for part in self._speak(turn):
                yield part
            return
        chosen = first_match(self._flow().global_intents, said)
        if chosen is not None:
            async for part in self._global(chosen, turn):
                yield part
            return
        errors, corrected, learned = self._understand(said, state)
        changed = [name for name in corrected if name not in state.collect]
        if changed:
            # "No, make it seven": go back to where that value is asked. Its state is skipped
            # (the value is known now), and everything after it runs again: checks and
            # actions that depend on the value, then the read-back with the new value.
            asking = self._asking_state(changed[0])
            async for part in self._enter_chain(asking, turn) if asking else self._speak(turn):
                yield part
            return
        transition = self._choose(state, said)
        if transition is not None:
            async for part in self._go(transition, turn):
                yield part
            return
        if state.terminal:
            async for part in self._speak(turn):
                yield part
            return
        if learned and not errors:
            # Useful, just not what this state asked ("March third" when asked for a name):
            # keep it, say so, and ask again without counting a failed try.
            yield Speech(GOT_IT)
            async for part in self._ask_again(turn):
                yield part
            return
        if self.agent.model is not None and not errors:
            async for part in self._model_turn(turn, state):
                yield part
            return
        async for part in self._not_understood(turn, errors):
            yield part

    def _understand(self, said: str, state: State) -> tuple[list[str], list[str], bool]:
        """Fill slots from the caller's words.

        Returns the value errors of the asked slots, the known slots that changed, and whether
        a slot became known.
        """
        flow = self._flow()
        today = self.agent.today()
        errors: list[str] = []
        corrected: list[str] = []
        learned = False
        for name, slot in flow.slots.items():
            if flow.spec.slots[name].source == "action":
                continue
            asked = name in state.collect
            parsed = slot_type(slot.type).extract(said, slot, today, asked=asked)
            if parsed is None:
                continue
            if not parsed.ok:
                if asked:
                    errors.append(parsed.error)
                continue
            if name in self.slots and self.slots[name] != parsed.value:
                corrected.append(name)
            learned = learned or name not in self.slots
            self.slots[name] = parsed.value
        return errors, corrected, learned

    def _asking_state(self, slot: str) -> str | None:
        """The first state (in flow order) that asks for ``slot``, if any does."""
        states = self._flow().spec.states
        return next((name for name, state in states.items() if slot in state.collect), None)

    def _choose(self, state: State, said: str | None) -> Transition | None:
        """Guards first, then intents our code recognises, then a plain way out."""
        flow = self._flow()
        context = self._context()
        for index, transition in enumerate(state.next):
            if transition.when and flow.guards[("states", self.state, "next", index)](**context):
                return transition
        if said is not None:
            matched = first_match(flow.intents[self.state], said)
            if matched is not None:
                return next(t for t in state.next if t.intent == matched)
        if self._satisfied(state):
            for transition in state.next:
                if not transition.when and not transition.intent:
                    return transition
        return None

    def _satisfied(self, state: State) -> bool:
        return all(self.slots.get(name) is not None for name in state.collect)

    async def _not_understood(self, turn: Turn, errors: list[str]) -> AsyncIterator[Part]:
        state = self._spec()
        self.retries += 1
        if state.on_give_up and self.retries > state.retries:
            log.info("flow.give_up", call_id=self.call_id, state=self.state, tries=self.retries)
            async for part in self._enter_chain(state.on_give_up, turn):
                yield part
            return
        opener = f"Sorry, {errors[0]}." if errors else NOT_UNDERSTOOD
        reask = self._line("reask")
        if reask and reask.lower().startswith("sorry") and not errors:
            opener = ""  # the author's line apologises already
        if opener:
            yield Speech(opener)
        async for part in self._ask_again(turn):
            yield part

    async def _ask_again(self, turn: Turn) -> AsyncIterator[Part]:
        """The state's ``reask`` line, or its question again."""
        reask = self._line("reask")
        if reask:
            yield Speech(reask)
            return
        async for part in self._speak(turn):
            yield part

    async def _global(self, name: str, turn: Turn) -> AsyncIterator[Part]:
        flow = self._flow()
        index, intent = next(
            (i, g) for i, g in enumerate(flow.spec.global_intents) if g.intent == name
        )
        assert isinstance(intent, GlobalIntent)
        log.info("flow.global_intent", call_id=self.call_id, intent=name, state=self.state)
        if intent.say:
            yield Speech(render(flow.template("global", index, "say"), self._context()))
        if intent.to is None:
            async for part in self._speak(turn):  # e.g. "repeat that"
                yield part
            return
        if intent.returns and intent.to != self.state:
            self.returns.append(self.state)
        async for part in self._enter_chain(intent.to, turn):
            yield part

    async def _go(self, transition: Transition, turn: Turn) -> AsyncIterator[Part]:
        flow = self._flow()
        if transition.say:
            index = self._spec().next.index(transition)
            template = flow.template("states", self.state, "next", index, "say")
            yield Speech(render(template, self._context()))
        for name in transition.clear:
            self.slots.pop(name, None)
        async for part in self._enter_chain(transition.to, turn):
            yield part

    async def _enter_chain(self, target: str | None, turn: Turn) -> AsyncIterator[Part]:
        """Enter ``target`` and keep going while the way out is already open."""
        hops = 0
        while target is not None and hops < MAX_HOPS:
            hops += 1
            self._enter(target, turn)
            async for part in self._on_enter(turn):
                yield part
            state = self._spec()
            transition = self._choose(state, None)
            if transition is not None:
                for name in transition.clear:
                    self.slots.pop(name, None)
                if transition.say:
                    index = state.next.index(transition)
                    template = self._flow().template("states", self.state, "next", index, "say")
                    yield Speech(render(template, self._context()))
                target = transition.to
            elif not state.next and not state.terminal and self.returns:
                target = self.returns.pop()  # back to where a returning global intent left
            else:
                target = None
        if hops >= MAX_HOPS:
            log.warning("flow.hop_limit", call_id=self.call_id, state=self.state)

    def _enter(self, target: str, turn: Turn) -> None:
        assert self.flow is not None and self.position is not None
        if target != self.state:
            self.flow.machine.move(self.position, target)
        self.retries = 0
        self.entered_at = len(turn.transcript)
        self.path.append(target)
        log.debug("flow.enter", call_id=self.call_id, state=target)

    async def _on_enter(self, turn: Turn) -> AsyncIterator[Part]:
        async for part in self._enter_effects():
            yield part
        state = self._spec()
        if state.collect and self._satisfied(state):
            return  # everything this state asks for is known: skip its question
        async for part in self._speak(turn):
            yield part

    async def _enter_effects(self) -> AsyncIterator[Part]:
        """The voice settings and actions of the state just entered."""
        state = self._spec()
        if state.voice is not None:
            config = state.voice.model_dump(exclude_none=True)
            if config:
                yield UpdateAgent(config)
        for index in range(len(state.actions)):
            async for part in self._run_action(index):
                yield part

    async def _speak(self, turn: Turn) -> AsyncIterator[Part]:
        """Speak the current state's line, with its actions set first so they ride on the words."""
        flow = self._flow()
        state = self._spec()
        context = self._context()
        actions = Actions(no_interruption_allowed=state.no_interruption)
        if state.end_call:
            actions = actions | Actions(end_call=True)
        elif state.transfer is not None:
            number = render(flow.template("states", self.state, "transfer"), context)
            actions = actions | Actions(transfer_number=number)
        elif state.press_digit is not None:
            actions = actions | Actions(digit_to_press=state.press_digit)
        if actions != NO_ACTIONS:
            yield actions
        if state.say is not None:
            yield Speech(render(flow.template("states", self.state, "say"), context))
        elif state.prompt is not None:
            if self.agent.model is None:
                yield Speech(self._line("reask") or NO_MODEL)
                return
            async for part in self._model_speaks(turn, state):
                yield part

    def _line(self, key: str) -> str | None:
        flow = self._flow()
        path = ("states", self.state, key)
        if path not in flow.templates:
            return None
        return render(flow.template(*path), self._context())

    # -- actions ---------------------------------------------------------------------------

    async def _run_action(self, index: int) -> AsyncIterator[Part]:
        context = self._context()
        action = state_actions.prepare(self._flow(), self.state, index, context)
        tool_id = f"{self.call_id}:{self.state}:{index}:{len(self.path)}"
        yield ToolCallInvocation(tool_id, action.name, action.arguments_json())
        try:
            result = await self.runner.run(action.name, action.args, action.webhook, action.url)
            ok = True
        except RuntimeFault as exc:
            log.warning("action.failed", call_id=self.call_id, action=action.name, error=str(exc))
            result, ok = {"error": str(exc)}, False
        self.slots.update(
            state_actions.stored_values(self._flow(), self.state, index, context, result)
        )
        yield ToolCallResult(tool_id, orjson.dumps(result, default=str).decode(), ok)

    # -- the model -------------------------------------------------------------------------

    async def _model_turn(self, turn: Turn, state: State) -> AsyncIterator[Part]:
        spoke = False
        outcome = ToolOutcome()
        async for part in self._model_speaks(turn, state, outcome):
            if isinstance(part, Speech):
                spoke = True
            yield part
        transition = self._choose(state, None)
        if transition is None and outcome.intent:
            transition = next((t for t in state.next if t.intent == outcome.intent), None)
            if transition is None:  # a global intent the model recognised
                async for part in self._global(outcome.intent, turn):
                    yield part
                return
        if transition is not None:
            async for part in self._go(transition, turn):
                yield part
            return
        if not spoke:
            async for part in self._not_understood(turn, outcome.errors):
                yield part

    async def _model_speaks(
        self, turn: Turn, state: State, outcome: ToolOutcome | None = None
    ) -> AsyncIterator[Part]:
        """The model speaks for ``state``; with an ``outcome``, it may also use the tools."""
        flow = self._flow()
        model = self.agent.model
        assert model is not None
        context = self._context()
        parts = []
        if flow.spec.persona:
            parts.append(render(flow.prompt(flow.spec.persona), context))
        if state.prompt:
            parts.append(render(flow.prompt(state.prompt), context))
        elif state.say is not None:
            line = render(flow.template("states", self.state, "say"), context)
            parts.append(f"Your line in this step of the call is: {line}")
        known = {k: v for k, v in self.slots.items() if v is not None}
        if known:
            parts.append("Known so far: " + orjson.dumps(known, default=str).decode())
        offered = offered_tools(flow, state, self.slots) if outcome is not None else []
        if offered:
            parts.append(TOOL_GUIDE)
        transcript: tuple[Utterance, ...] = turn.transcript
        if state.context == "state":
            transcript = transcript[self.entered_at :]
        messages = chat_messages("\n\n".join(parts), transcript)
        calls: list[ToolCallRequest] = []
        async for event in model.stream(messages, offered or None):
            if isinstance(event, TextDelta):
                yield Speech(event.text)
            else:
                calls.append(event)
        if outcome is None:
            return
        for call in calls:
            yield ToolCallInvocation(call.id, call.name, call.arguments)
            result = apply_tool_call(flow, call, self.agent.today(), outcome)
            yield ToolCallResult(call.id, result, not result.startswith("rejected"))
        self.slots.update(outcome.slots)

    # -- helpers ---------------------------------------------------------------------------

    def _flow(self) -> CompiledFlow:
        assert self.flow is not None
        return self.flow

    def _context(self) -> dict[str, Any]:
        flow = self._flow()
        slots = {name: self.slots.get(name) for name in flow.slots}
        call = CallInfo(self.call_id, details=self._details).template_view()
        return {"slots": slots, "call": call, "flow": flow.name, "state": self.state}


def _caller_words(transcript: tuple[Utterance, ...]) -> str | None:
    """What the caller said since the agent last spoke (``None`` if nothing)."""
    words: list[str] = []
    for utterance in reversed(transcript):
        if utterance.role == "agent":
            break
        if utterance.content.strip():
            words.append(utterance.content.strip())
    return " ".join(reversed(words)) if words else None


async def _spaced(parts: AsyncIterator[Part]) -> AsyncIterator[Part]:
    """Keep pieces of speech from running into each other ("Got it.What's ...")."""
    last = ""
    async for part in parts:
        if isinstance(part, Speech):
            if not part.text:
                continue
            if last and not last[-1].isspace() and not part.text[0].isspace():
                part = Speech(" " + part.text)
            last = part.text
        yield part
