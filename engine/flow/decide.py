"""The pure part of a turn: what the caller's words mean, and what the call should do next.

Nothing here changes a call or speaks: :func:`plan` reads the flow, the call's memory and the
turn, and returns a :data:`Plan` plus the slot values understood; the conversation applies
them. The order of the rules is the order of :func:`plan`:

1. A reminder turn reminds.
2. Nothing new from the caller (an agent-first call): ask this state's question.
3. Global intents that clearly match ("talk to a person") win.
4. Our parsers fill slots: the current state's slots from the answer, any other slot from
   strong evidence (an email, a date with a month name, "my name is ...").
5. A changed value of a slot this state does not ask for: back to where it is asked.
6. Transitions: guards over the slots first, then intents our code recognises, then a plain
   way out once the state's slots are filled.
7. Otherwise: "got it" for a value useful elsewhere, the model when one is configured, or a
   re-ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeAlias

from engine.protocol import Utterance

from .compile import CompiledFlow
from .intents import first_match
from .spec import State, Transition


@dataclass(frozen=True)
class Understanding:
    """What the parsers took from the caller's words."""

    values: dict[str, Any] = field(default_factory=dict)
    """Slot values to store (validated by their types)."""
    errors: tuple[str, ...] = ()
    """Speakable reasons why an answer to this state's question was refused."""
    corrected: tuple[str, ...] = ()
    """Slots that held another value before."""

    def learned(self, known: Mapping[str, Any]) -> bool:
        """Whether a slot that was empty gets a value."""
        return any(known.get(name) is None for name in self.values)


@dataclass(frozen=True)
class Remind:
    """The caller went quiet: say the state's reminder."""


@dataclass(frozen=True)
class Ask:
    """Say this state's line (again): nothing to act on, or a state the call cannot leave."""


@dataclass(frozen=True)
class TakeGlobal:
    """The caller voiced a global intent."""

    intent: str


@dataclass(frozen=True)
class Correct:
    """A value asked earlier changed: go back to the state that asks for it (``None``: none)."""

    target: str | None


@dataclass(frozen=True)
class Move:
    """Take a way out of this state."""

    transition: Transition


@dataclass(frozen=True)
class GotIt:
    """Something useful for later was said, not what this state asked: keep it, ask again."""


@dataclass(frozen=True)
class AskModel:
    """Our rules cannot settle the turn: the model gets it, with the state's tools."""


@dataclass(frozen=True)
class NotUnderstood:
    """Ask again (counting a failed try), saying why when a value was refused."""

    errors: tuple[str, ...] = ()


Plan: TypeAlias = Remind | Ask | TakeGlobal | Correct | Move | GotIt | AskModel | NotUnderstood


def caller_words(transcript: tuple[Utterance, ...]) -> str | None:
    """What the caller said since the agent last spoke (``None`` if nothing)."""
    words: list[str] = []
    for utterance in reversed(transcript):
        if utterance.role == "agent":
            break
        if utterance.content.strip():
            words.append(utterance.content.strip())
    return " ".join(reversed(words)) if words else None


def understand(
    flow: CompiledFlow, state: State, known: Mapping[str, Any], said: str, today: date
) -> Understanding:
    """The slot values in ``said``: this state's slots from the answer, others when clear."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    corrected: list[str] = []
    for name, slot in flow.slots.items():
        if slot.source == "action":
            continue
        asked = name in state.collect
        parsed = flow.slot_types[name].extract(said, slot, today, asked=asked)
        if parsed is None:
            continue
        if not parsed.ok:
            if asked:
                errors.append(parsed.error)
            continue
        if known.get(name) is not None and known[name] != parsed.value:
            corrected.append(name)
        values[name] = parsed.value
    return Understanding(values, tuple(errors), tuple(corrected))


def satisfied(state: State, slots: Mapping[str, Any]) -> bool:
    """Whether every slot ``state`` collects holds a value."""
    return all(slots.get(name) is not None for name in state.collect)


def choose(
    flow: CompiledFlow,
    state_name: str,
    view: Mapping[str, Any],
    slots: Mapping[str, Any],
    said: str | None,
) -> Transition | None:
    """The way out of ``state_name``: guards first, then recognised intents, then a plain way.

    ``view`` is what guards see (:func:`engine.flow.view.template_view`).
    """
    state = flow.state(state_name)
    for index, transition in enumerate(state.next):
        if transition.when and flow.guards[("states", state_name, "next", index)](**view):
            return transition
    if said is not None:
        matched = first_match(flow.intents[state_name], said)
        if matched is not None:
            return next(t for t in state.next if t.intent == matched)
    if satisfied(state, slots):
        for transition in state.next:
            if not transition.when and not transition.intent:
                return transition
    return None


def asking_state(flow: CompiledFlow, slot: str) -> str | None:
    """The first state (in flow order) that asks for ``slot``, if any does."""
    return next((name for name, state in flow.spec.states.items() if slot in state.collect), None)


def plan(
    flow: CompiledFlow,
    state_name: str,
    slots: Mapping[str, Any],
    said: str | None,
    *,
    reminder: bool,
    today: date,
    has_model: bool,
    view: Any,
) -> tuple[Plan, Understanding]:
    """What to do with a turn, and the values understood (not yet stored).

    ``view`` builds what guards see for a set of slots: ``view(slots) -> mapping``.
    """
    nothing = Understanding()
    if reminder:
        return Remind(), nothing
    if said is None:
        return Ask(), nothing
    chosen = first_match(flow.global_intents, said)
    if chosen is not None:
        return TakeGlobal(chosen), nothing
    state = flow.state(state_name)
    understood = understand(flow, state, slots, said, today)
    elsewhere = [name for name in understood.corrected if name not in state.collect]
    if elsewhere:
        # "No, make it seven": go back to where that value is asked. Its state is skipped (the
        # value is known now) and everything after it runs again with the new value.
        return Correct(asking_state(flow, elsewhere[0])), understood
    after = {**slots, **understood.values}
    transition = choose(flow, state_name, view(after), after, said)
    if transition is not None:
        return Move(transition), understood
    if state.terminal:
        return Ask(), understood
    if understood.learned(slots) and not understood.errors:
        return GotIt(), understood
    if has_model and not understood.errors:
        return AskModel(), understood
    return NotUnderstood(understood.errors), understood
