"""The pure part of a turn: what the caller's words mean, and what the call should do next.

Nothing here changes a call or speaks: :func:`plan` reads the flow, the call's memory and the
turn, and returns a :data:`Plan` plus the slot values understood; the conversation applies
them. The order of the rules is the order of :func:`plan`:

1. A reminder turn reminds.
2. Nothing new from the caller (an agent-first call): ask this state's question.
3. Global intents that clearly match (the author's own) win; then a request for a person.
4. Our parsers fill slots: the current state's slots from the answer, any other slot from
   strong evidence (an email, a date with a month name, "my name is ...").
5. A value read back for confirmation ("did you say 7 PM?") is stored on a yes, dropped on a
   no.
6. A changed value of a slot this state does not ask for: back to where it is asked.
7. A read-back: a corrected value (6), an item named as wrong ("the date is wrong"), a plain
   "no" (which item?), or a yes.
8. Nothing understood and a repair asked for: repeat, hold, cancel.
9. Transitions: guards over the slots first, then intents our code recognises, then a plain
   way out once the state's slots are filled.
10. Otherwise: a value heard but not for sure is read back, "got it" for a value useful
    elsewhere, the model when one is configured, or a re-ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeAlias

from engine.protocol import Utterance

from . import readback, understanding
from .compile import CompiledFlow
from .intents import first_match
from .repair_words import says_what_about
from .slots import yes_no
from .spec import State, Transition
from .understanding import Understanding

__all__ = [
    "Ask",
    "AskModel",
    "AskToStop",
    "AskWhich",
    "Clarify",
    "Correct",
    "Fix",
    "GotIt",
    "Move",
    "NotUnderstood",
    "Plan",
    "Rejected",
    "Remind",
    "Repair",
    "TakeGlobal",
    "Understanding",
    "caller_words",
    "choose",
    "plan",
    "recognise",
    "satisfied",
    "understand",
    "visited_enough",
]


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
    """Our rules cannot settle the turn: the model reads the answer (or speaks, in a prompt)."""

    errors: tuple[str, ...] = ()
    """Why our parsers refused the answer, said if the model cannot settle it either."""


@dataclass(frozen=True)
class NotUnderstood:
    """Ask again (counting a failed try), saying why when a value was refused."""

    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Repair:
    """A built-in repair the caller asked for: ``repeat``, ``hold``, ``cancel`` or ``human``."""

    name: str


@dataclass(frozen=True)
class AskToStop:
    """Ask "Do you want me to stop here?" of a caller who gave the thing up, not the call.

    "Scrap the whole thing, we'll just eat at home": a yes next turn cancels, a no asks the
    question again.
    """


@dataclass(frozen=True)
class Clarify:
    """A value heard but not for sure: read it back ("did you say 7 PM?"), store it on a yes."""

    slot: str
    value: Any


@dataclass(frozen=True)
class Rejected:
    """The caller said no to a value read back for confirmation: ask for it again."""


@dataclass(frozen=True)
class AskWhich:
    """A read-back is wrong and the caller did not say where: ask which item to fix."""


@dataclass(frozen=True)
class Fix:
    """An item of a read-back is wrong: ask for it again, then come back to the read-back."""

    slot: str


Plan: TypeAlias = (
    Remind | Ask | TakeGlobal | Correct | Move | GotIt | AskModel | NotUnderstood | Repair
    | Clarify | Rejected | AskWhich | Fix | AskToStop
)  # fmt: skip


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
    """The slot values in ``said`` for ``state`` (see :mod:`engine.flow.understanding`)."""
    return understanding.understand(flow.listener, state.collect, known, said, today)


def recognise(flow: CompiledFlow, state_name: str, said: str) -> str | None:
    """The intent our rules hear in ``said`` in a state: a global one first, then the state's."""
    return first_match(flow.global_intents, said) or first_match(flow.intents[state_name], said)


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
    patterns = flow.intents[state_name]
    if state.read_back:
        # Read back for a yes: its plain way opens on a yes only, never on entering.
        if said is None:
            return None
        matched = first_match(patterns, said)
        if matched is not None:
            return next(t for t in state.next if t.intent == matched)
        plain = next((t for t in state.next if not t.when and not t.intent), None)
        return plain if yes_no(said) is True else None
    if said is not None:
        matched = first_match(patterns, said, yes_no_words=False)
        if matched is not None:
            return next(t for t in state.next if t.intent == matched)
    plain = next((t for t in state.next if not t.when and not t.intent), None)
    if plain is not None and satisfied(state, slots) and (said is None or state.collect):
        # The question is answered: "no, seven" to "6:30 or 7:30?" gives the time, and the
        # plain "no" of an intent that means no does not take the caller elsewhere.
        return plain
    if said is not None:
        matched = first_match(patterns, said)
        if matched is not None:
            return next(t for t in state.next if t.intent == matched)
    if plain is not None and satisfied(state, slots):
        return plain
    return None


def asking_state(flow: CompiledFlow, slot: str) -> str | None:
    """The first state (in flow order) that asks for ``slot``, if any does."""
    return next((name for name, state in flow.spec.states.items() if slot in state.collect), None)


def visited_enough(flow: CompiledFlow, visits: Mapping[str, int], target: str) -> bool:
    """Whether entering ``target`` once more would pass its ``visits`` limit.

    A state that ends the call is where loops end, never part of one.
    """
    state = flow.state(target)
    limit = flow.spec.visits if state.visits is None else state.visits
    return not state.terminal and visits.get(target, 0) >= limit


def correction_target(
    flow: CompiledFlow, state_name: str, slots: Mapping[str, Any], changed: list[str]
) -> str | None:
    """Where a change to slots this state does not ask for takes the call, if anywhere.

    Back to the state that asks for the changed value, so that everything after it runs again
    with the new value (its own question is skipped: the value is known). Not forward: while
    this state still waits for its own answer, a state after it would skip that answer
    ("Can you do the 25th at 7:30?" asked for the party size keeps asking for the party size).
    """
    state = flow.state(state_name)
    order = list(flow.spec.states)
    waiting = bool(state.collect) and not satisfied(state, slots)
    for name in changed:
        target = asking_state(flow, name)
        if target is None:
            continue
        if not waiting or order.index(target) < order.index(state_name):
            return target
    return None


def _reason_given(flow: CompiledFlow, state_name: str, slots: Mapping[str, Any], said: str) -> bool:
    """Whether a request for a person, with what it is about, answers this state's question.

    A state that asks for a reason still empty (free text its author says callers introduce
    with "about" or "because": "I'm calling about ...") takes "I want to talk to someone about
    my blood pressure" as its answer; anywhere else it asks for a person.
    """
    if not says_what_about(said):
        return False
    return any(
        slots.get(name) is None
        and understanding.free_text(flow.slot_types[name])
        and any(cue.split()[-1:] in (["about"], ["because"]) for cue in flow.slots[name].cues)
        for name in flow.state(state_name).collect
        if name in flow.slot_types
    )


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
    pending: Mapping[str, Any] | None = None,
    fixing: bool = False,
    stopping: bool = False,
) -> tuple[Plan, Understanding]:
    """What to do with a turn, and the values understood (not yet stored).

    ``view`` builds what guards see for a set of slots: ``view(slots) -> mapping``.
    ``pending`` is a value read back for confirmation last turn; ``fixing`` says the caller
    was asked which item of a read-back to fix; ``stopping`` that the caller was asked whether
    to stop here.
    """
    nothing = Understanding()
    if reminder:
        return Remind(), nothing
    if said is None:
        return Ask(), nothing
    if stopping and yes_no(said) is True:
        return Repair("cancel"), nothing  # "Do you want me to stop here?" "Yes."
    repair = flow.repairs.heard(said)
    own = {intent.intent for intent in flow.spec.global_intents}
    if repair in own:  # the author's own intent of that name keeps its behaviour
        return TakeGlobal(repair), nothing
    if repair == "human" and _reason_given(flow, state_name, slots, said):
        repair = None  # asked why they call: "to talk to someone about my blood pressure"
    if repair == "human" and flow.repairs.human_to != state_name:
        return Repair("human"), nothing
    if repair == "cancel" and flow.repairs.said_outright(said):
        return Repair("cancel"), nothing  # "never mind, I'll call back": nothing said counts
    chosen = first_match(flow.global_intents, said) if repair is None else None
    if chosen is not None:
        return TakeGlobal(chosen), nothing
    state = flow.state(state_name)
    understood = understand(flow, state, slots, said, today)
    types = flow.slot_types
    if stopping and yes_no(said) is False and not understanding.answers(understood, types):
        return Ask(), nothing  # "Do you want me to stop here?" "No.": the question again
    if pending:
        understood, answer = _settle(understood, pending, said)
        if answer is not None:
            return answer, understood
    if state.read_back:
        # The item the caller names decides which slot the words change: "the last digit of
        # the phone is 4" is the phone's, whatever else its digits could amend.
        items = readback.named(flow.slots, state.read_back, said)
        stray = bool(understood.values) and bool(items) and items[0] not in understood.values
        if (not understood.values and not understood.removed) or stray:
            named = _named_item(flow, state.read_back, slots, said, today, wrong=False)
            if isinstance(named, Understanding):
                understood = named
            elif stray:
                understood = Understanding()  # the named item's words said no value of it
            elif not items and not understood.values and not understood.removed:
                # "It should be March 4th": a value no item was named for. When only one item
                # read back can take it, that item changes; when several can, ask which.
                takers = _unnamed_value(flow, state.read_back, slots, said, today)
                if len(takers) == 1 and yes_no(said) is not True:
                    understood = takers[0]
                elif takers:
                    # Several items could take it, or "yes" came with a value that differs
                    # from the one read back: nothing is stored until the caller says which.
                    return AskWhich(), nothing
    else:
        # "The time is wrong, it's 11" while the agent asks something else: that item is
        # corrected (or asked again), and the words are no answer to this question.
        known = [name for name in flow.slots if slots.get(name) is not None]
        others = [name for name in known if name not in state.collect]
        named = _named_item(flow, others, slots, said, today, wrong=True)
        if isinstance(named, str):
            return Fix(named), Understanding()
        if named is not None:
            understood = named
    after = {**slots, **understood.values}
    for name in understood.removed:
        after.pop(name, None)
    changed = [*understood.corrected, *understood.removed]
    elsewhere = [name for name in changed if name not in state.collect]
    if elsewhere:
        # "No, make it seven": go back to where that value is asked.
        target = correction_target(flow, state_name, after, elsewhere)
        if target is not None or not state.collect:
            return Correct(target), understood
    if state.read_back and not understood.values and not understood.removed:
        checked = _read_back(flow, state, said, fixing)
        if checked is not None:
            return checked, understood
    if repair is not None and not understanding.answers(understood, flow.slot_types):
        # Giving the thing up, not said outright ("scrap the whole thing"): ask before the call
        # ends. Said with a value ("scrap the whole thing, make it Friday"), it is a restart.
        found = AskToStop() if repair == "cancel" else Repair(repair)
        return found, Understanding(errors=understood.errors)
    transition = choose(flow, state_name, view(after), after, said)
    if transition is not None:
        return Move(transition), understood
    if state.terminal:
        return Ask(), understood
    unsure = [(name, value) for name, value in understood.unsure.items() if name in state.collect]
    if unsure and not understood.values:
        return Clarify(*unsure[0]), understood
    if (understood.learned(slots) or elsewhere) and not understood.errors:
        return GotIt(), understood
    if has_model and (not understood.errors or state.say is not None):
        # A fixed line's state asks the model to read an answer even when our parsers refused
        # it (a value said oddly); a prompt state lets the caller hear why first.
        return AskModel(understood.errors), understood
    return NotUnderstood(understood.errors), understood


def _settle(
    understood: Understanding, pending: Mapping[str, Any], said: str
) -> tuple[Understanding, Plan | None]:
    """The caller's answer to "did you say 7 PM?": a new value wins, then yes or no."""
    if any(name in understood.values for name in pending):
        return understood, None  # "no, eight": the new value is the answer
    answer = yes_no(said)
    if answer is True:
        values = {**understood.values, **pending}
        return replace(understood, values=values), None
    if answer is False:
        return understood, Rejected()
    return understood, None


def _named_item(
    flow: CompiledFlow,
    among: Sequence[str],
    slots: Mapping[str, Any],
    said: str,
    today: date,
    *,
    wrong: bool,
) -> Understanding | str | None:
    """An item of ``among`` the caller names, with its new value understood, or its name.

    "The reason is a sore knee" gives the value; "the date is wrong" only the item's name.

    With ``wrong``, only words that say the item is wrong count ("no, my last name is
    Nguyen"): an answer that merely mentions another item is still an answer.
    """
    items = readback.named(flow.slots, among, said)
    if not items or (wrong and not readback.says_wrong(said)):
        return None
    words = readback.value_after(said, flow.slots, items[0])
    if words:
        found = understanding.understand(flow.listener, (items[0],), slots, words, today)
        if items[0] in found.values:
            return found
    return items[0] if wrong else None


_ANY_WORDS = frozenset({"yes_no", "name"})  # types that, when asked, take nearly any words


def _unnamed_value(
    flow: CompiledFlow,
    among: Sequence[str],
    slots: Mapping[str, Any],
    said: str,
    today: date,
) -> list[Understanding]:
    """Each item of ``among`` that ``said`` would change, read as that item's answer alone.

    Free text, names and yes-or-no items take almost any words ("go ahead", "that's right"),
    so only values of a shape count: "March 4th" changes a date of birth, not the reason for a
    visit.
    """
    takers = []
    for name in among:
        kind = flow.slot_types[name]
        if slots.get(name) is None or understanding.free_text(kind) or kind.name in _ANY_WORDS:
            continue
        found = understanding.understand(flow.listener, (name,), slots, said, today)
        if found.values.keys() == {name} and found.values[name] != slots[name]:
            takers.append(found)
    return takers


def _read_back(flow: CompiledFlow, state: State, said: str, fixing: bool) -> Plan | None:
    """A read-back's answer when no value was said: an item named as wrong, a no, or none."""
    items = readback.named(flow.slots, state.read_back, said)
    if items and (fixing or readback.says_wrong(said)):
        return Fix(items[0])  # "the date is wrong" / (which item?) "my name"
    if yes_no(said) is True:
        # A yes: the plain way out (see choose); but asked which item to fix, a yes names none,
        # and goes nowhere near the way out: the question is asked again.
        return AskWhich() if fixing else None
    if readback.says_wrong(said) and not fixing:
        return AskWhich()
    return None
