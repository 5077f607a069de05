"""Expectations of conversation tests: what the agent did, checked against what the file says."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from engine.errors import AuthoringError
from engine.flow import AgentReply, CompiledFlow, StubbedCall
from engine.flow.extraction import EXTRACT_TOOL

from .call_record import CallRecord, show
from .conversation_spec import Expect, FinalExpect, LoadedConversations

_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")


@dataclass(frozen=True)
class Observed:
    """What the checks look at: one turn's reply, or the whole call at the end."""

    text: str
    state: str
    slots: Mapping[str, Any]
    ended: bool
    transfer: str | None
    model_requests: int
    path: tuple[str, ...]
    scope: str  # "on this turn" or "during the call"
    actions: tuple[StubbedCall, ...] = ()


def observe_turn(call: CallRecord, reply: AgentReply, asked: int) -> Observed:
    """What one turn's checks look at."""
    runner = call.runner
    return Observed(
        reply.text,
        runner.state,
        runner.slots,
        reply.ended,
        reply.transfer,
        asked,
        tuple(runner.states),
        "on this turn",
        tuple(call.actions[call.actions_before :]),
    )


def observe_end(call: CallRecord) -> Observed:
    """What the checks at the end of a test look at (the whole call)."""
    runner = call.runner
    spoken = " ".join(line.text for line in call.lines if line.speaker == "agent")
    return Observed(
        spoken,
        runner.state,
        runner.slots,
        call.hung_up,
        call.transfer,
        call.model_requests,
        tuple(runner.states),
        "during the call",
        tuple(call.actions),
    )


def _texts(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def check(expect: Expect, seen: Observed) -> list[str]:
    """Every expectation of ``expect`` that ``seen`` does not meet, as readable lines."""
    problems: list[str] = []
    said = f"it said: {seen.text!r}" if seen.text else "it said nothing"
    if expect.state is not None and seen.state != expect.state:
        problems.append(f"state: expected {expect.state!r}, but the call is in {seen.state!r}")
    missing = [p for p in _texts(expect.says) if p.casefold() not in seen.text.casefold()]
    if missing:
        phrases = " and ".join(map(repr, missing))
        problems.append(f"says: expected the agent to say {phrases} {seen.scope}, but {said}")
    if expect.says_regex is not None and not re.search(expect.says_regex, seen.text, re.I):
        problems.append(f"says_regex: /{expect.says_regex}/ does not match; {said}")
    for phrase in _texts(expect.not_says):
        if phrase.casefold() in seen.text.casefold():
            problems.append(f"not_says: the agent said {phrase!r} {seen.scope}: {seen.text!r}")
    for name, wanted in (expect.slots or {}).items():
        actual = seen.slots.get(name)
        if wanted is None:  # `slot: null` means "not filled" (a value that was cleared)
            if actual is not None:
                problems.append(f"slots.{name}: expected it not filled, got {show(actual)}")
        elif actual is None:
            problems.append(f"slots.{name}: expected {show(wanted)}, but it is not filled")
        elif not same_value(wanted, seen.slots[name]):
            got = show(seen.slots[name])
            problems.append(f"slots.{name}: expected {show(wanted)}, got {got}")
    if expect.ended is not None and seen.ended != expect.ended:
        if expect.ended:
            problems.append(f"ended: expected the agent to hang up {seen.scope}, but it did not")
        else:
            problems.append(f"ended: expected the call to go on, but the agent hung up; {said}")
    problems.extend(_transfer_problems(expect.transferred, seen))
    if expect.model_called is not None and (seen.model_requests > 0) != expect.model_called:
        if expect.model_called:
            problems.append(
                f"model_called: expected the model to be asked {seen.scope}, but our parsers "
                "settled it without the model"
            )
        else:
            problems.append(
                f"model_called: expected no model call {seen.scope}, but the model was asked "
                f"{seen.model_requests} time(s)"
            )
    problems.extend(_called_problems(expect.called or {}, seen))
    wanted_path = expect.path if isinstance(expect, FinalExpect) else None
    if wanted_path is not None and list(seen.path) != wanted_path:
        expected, got = " -> ".join(wanted_path), " -> ".join(seen.path)
        problems.append(f"path: expected {expected}, got {got}")
    return problems


def _transfer_problems(wanted: bool | int | str | None, seen: Observed) -> list[str]:
    if wanted is None:
        return []
    got = seen.transfer
    if wanted is False:
        return [] if got is None else [f"transferred: expected no transfer, but it went to {got}"]
    if got is None:
        target = "" if wanted is True else f" to {wanted}"
        return [f"transferred: expected a transfer{target} {seen.scope}, but there was none"]
    if wanted is True or _digits(wanted) == _digits(got):
        return []
    return [f"transferred: expected a transfer to {wanted}, but it went to {got}"]


def _called_problems(wanted: Mapping[str, bool | Mapping[str, Any]], seen: Observed) -> list[str]:
    problems = []
    for name, expected in wanted.items():
        calls = [action for action in seen.actions if action.name == name]
        if expected is False:
            if calls:
                problems.append(f"called.{name}: expected no call {seen.scope}, but it was called")
            continue
        if not calls:
            ran = ", ".join(sorted({a.name for a in seen.actions})) or "none"
            problems.append(
                f"called.{name}: expected a call {seen.scope}, but there was none "
                f"(actions called: {ran})"
            )
            continue
        if isinstance(expected, Mapping):
            args = [a.args if isinstance(a.args, Mapping) else {} for a in calls]
            if not any(
                all(k in given and same_value(v, given[k]) for k, v in expected.items())
                for given in args
            ):
                got = " or ".join(show(given) for given in args)
                problems.append(f"called.{name}: expected arguments {show(expected)}, got {got}")
    return problems


def _digits(number: object) -> str:
    # YAML reads an unquoted +14155550100 as a number; compare the digits only.
    return re.sub(r"\D", "", str(number))


def same_value(wanted: Any, actual: Any) -> bool:
    """Whether a slot holds the value a test file wrote, read as YAML reads it.

    YAML turns an unquoted ``1980-03-03`` into a date (slots hold ISO text) and an unquoted
    ``18:30`` into the base-60 number 1110 (slots hold ``"18:30"``); both compare as written.
    """
    if wanted == actual:
        return True
    if isinstance(wanted, (date, datetime, time)):
        return bool(wanted.isoformat() == actual)
    if isinstance(wanted, int) and not isinstance(wanted, bool) and isinstance(actual, str):
        clock = _CLOCK.match(actual)
        if clock:
            hours, minutes, seconds = (int(part or 0) for part in clock.groups())
            return wanted in (hours * 60 + minutes, (hours * 60 + minutes) * 60 + seconds)
    if isinstance(wanted, Mapping) and isinstance(actual, Mapping):
        return wanted.keys() == actual.keys() and all(
            same_value(wanted[k], actual[k]) for k in wanted
        )
    if isinstance(wanted, list) and isinstance(actual, (list, tuple)):
        return len(wanted) == len(actual) and all(map(same_value, wanted, actual))
    return False


def check_against_flow(
    loaded: LoadedConversations, flow: CompiledFlow, index: int
) -> list[AuthoringError]:
    """Names in test ``index`` that the flow does not have: states, slots, model tools."""
    spec = flow.spec
    states, slots = set(spec.states), set(spec.slots)
    intents = {g.intent for g in spec.global_intents}
    intents |= {t.intent for s in spec.states.values() for t in s.next if t.intent}
    tools = {f"set_{s}" for s in slots} | {f"intent_{i}" for i in intents} | {EXTRACT_TOOL}
    errors: list[AuthoringError] = []

    def unknown(kind: str, name: str, known: set[str], *path: Any) -> None:
        close = _close(name, known)
        has = ", ".join(sorted(known)) or "none"
        hint = f"did you mean {close!r}?" if close else f"{flow.name} has: {has}"
        errors.append(
            AuthoringError(
                f"{kind} {name!r} is not in flow {flow.name!r}", loaded.where(*path), hint
            )
        )

    test = loaded.spec.tests[index]
    base = ("tests", index)
    actions = action_names(flow)
    for name in loaded.spec.actions:
        if name not in actions:
            unknown("action", name, actions, "actions", name)
    for name in test.actions:
        if name not in actions:
            unknown("action", name, actions, *base, "actions", name)
    expects: list[tuple[tuple[Any, ...], Expect]] = []
    for n, turn in enumerate(test.turns):
        for key in ("agent", "expect"):
            value = getattr(turn, key)
            if value is not None:
                expects.append(((*base, "turns", n, key), value))
        for r, reply in enumerate(turn.model):
            for c, tool in enumerate(reply.tool_calls):
                if tool.name not in tools:
                    at = (*base, "turns", n, "model", r, "tool_calls", c, "name")
                    unknown("model tool", tool.name, tools, *at)
    if test.expect is not None:
        expects.append(((*base, "expect"), test.expect))
        for p, name in enumerate(test.expect.path or ()):
            if name not in states:
                unknown("state", name, states, *base, "expect", "path", p)
    for at, expect in expects:
        if expect.state is not None and expect.state not in states:
            unknown("state", expect.state, states, *at, "state")
        for name in expect.slots or {}:
            if name not in slots:
                unknown("slot", name, slots, *at, "slots", name)
        for name in expect.called or {}:
            if name not in actions:
                unknown("action", name, actions, *at, "called", name)
    return sorted(errors, key=lambda error: (error.location and error.location.line) or 0)


def action_names(flow: CompiledFlow) -> set[str]:
    """The flow's actions as tests name them; a webhook is ``webhook:<state>:<index>``."""
    return {
        action.call or f"webhook:{state_name}:{index}"
        for state_name, state in flow.spec.states.items()
        for index, action in enumerate(state.actions)
    }


def _close(name: str, known: set[str]) -> str | None:
    found = difflib.get_close_matches(name, sorted(known), n=1)
    return found[0] if found else None
