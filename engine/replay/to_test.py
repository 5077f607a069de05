"""A recorded call as a conversation test: a call that went wrong becomes a regression test.

The test (the format of ``tests/conversations/*.yaml``, see
:mod:`engine.testing.conversation_spec`) gives the caller's recorded words turn by turn (a
reminder turn is a silence), expects the state the call was in after each, and at the end its
slots, path and how it ended. Its actions answer what they answered on the call; where the
model read an answer (a fixed-line state), the test scripts the model's reply from the turn's
trace. Every expectation is what the call did: the author changes the wrong ones to what the
flow should do, then fixes the flow until the test passes.

Sensitive values never reach the file: each is replaced by a placeholder of the same shape
(``XG4471209`` becomes ``AB1234567``), the caller's words that gave one by the placeholder, and
every form of the value anywhere else (spelled, in digit groups) by the placeholder too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import yaml

from engine.agent import MASK
from engine.records import CallRecord, TurnRecord
from engine.records.model import spoken_forms

from .script import PLAYED

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{2}:\d{2}$")


def placeholder(value: Any) -> Any:
    """A stand-in for a sensitive value: the same shape, none of its letters or digits."""
    if not isinstance(value, str):
        return placeholder(str(value)) if value is not None else None
    if _ISO_DATE.match(value):
        return "2000-01-01"
    if _ISO_TIME.match(value):
        return "12:00"
    letters = digits = 0
    shaped = []
    for char in value:
        if char.isdigit():
            shaped.append("1234567890"[digits % 10])
            digits += 1
        elif char.isalpha():
            base = "A" if char.isupper() else "a"
            shaped.append(chr(ord(base) + letters % 26))
            letters += 1
        else:
            shaped.append(char)
    return "".join(shaped)


def conversation_test(
    record: CallRecord,
    *,
    today: date,
    prompt_states: frozenset[str] = frozenset(),
) -> str:
    """The YAML text of a conversation test of ``record`` (see the module docstring).

    ``today`` is the day the call ran on; ``prompt_states`` are the flow's states where the
    model speaks (their model replies cannot be read back from the trace).
    """
    if record.flow is None:
        raise ValueError(f"call {record.call_id} ran no flow")
    stand_in = {
        name: placeholder(record.slots[name])
        for name in record.sensitive
        if record.slots.get(name) is not None
    }
    hide = _Hider({str(record.slots[name]): str(value) for name, value in stand_in.items()})
    turns: list[dict[str, Any]] = []
    notes: list[str] = []
    transcript = record.transcript
    for turn in record.turns:
        if turn.outcome not in PLAYED or turn.kind == "greeting":
            continue
        entry: dict[str, Any]
        if turn.kind == "reminder":
            entry = {"silence": True}
        else:
            heard = transcript[: min(turn.transcript_len, len(transcript))]
            words = _last_words(heard)
            given = [f["name"] for f in turn.understood if f.get("value") == MASK]
            if given:
                words = ", ".join(str(stand_in.get(name, MASK)) for name in given)
            entry = {"caller": hide.text(words)}
            replies = _model_replies(turn, stand_in, prompt_states, notes)
            if replies:
                entry["model"] = replies
        entry["expect"] = {"state": turn.state_after}
        turns.append(entry)
    if not turns:
        raise ValueError(f"call {record.call_id} has no caller turn to replay")
    ending: dict[str, Any] = {}
    if record.transfer_number:
        ending["transferred"] = True
    elif record.outcome in ("completed", "cancelled"):
        ending["ended"] = True
    slots = {
        name: stand_in.get(name, value) for name, value in record.slots.items() if value is not None
    }
    test: dict[str, Any] = {"name": f"recorded call {record.call_id} ({record.outcome})"}
    actions = _actions(record, hide, notes)
    if actions:
        test["actions"] = actions
    test["turns"] = turns
    test["expect"] = {**ending, "slots": slots, "path": list(record.path)}
    document: dict[str, Any] = {"flow": record.flow, "today": today.isoformat()}
    call = {
        key: hide.value(value)
        for key, value in (
            ("metadata", record.metadata),
            ("retell_llm_dynamic_variables", record.dynamic_variables),
        )
        if value
    }
    if call:
        document["call"] = call
    document["tests"] = [test]
    return _header(record, stand_in, notes) + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=100
    )


class _Hider:
    """Replaces every form a sensitive value is said or written in with its placeholder."""

    def __init__(self, stand_in: Mapping[str, str]) -> None:
        forms = {
            form: placeholder_
            for value, placeholder_ in stand_in.items()
            for form in spoken_forms(value)
            if len(form) >= 3  # a shorter form would hide unrelated words
        }
        # Longest first: a value holding another is replaced whole.
        self.forms = sorted(forms.items(), key=lambda item: len(item[0]), reverse=True)

    def text(self, text: str) -> str:
        for form, replacement in self.forms:
            text = text.replace(form, replacement)
        return text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def _last_words(transcript: list[dict[str, str]]) -> str:
    words: list[str] = []
    for utterance in reversed(transcript):
        if utterance.get("role") == "agent":
            break
        content = utterance.get("content", "").strip()
        if utterance.get("role") == "user" and content:
            words.append(content)
    return " ".join(reversed(words))


def _model_replies(
    turn: TurnRecord, stand_in: Mapping[str, Any], prompt_states: frozenset[str], notes: list[str]
) -> list[dict[str, Any]]:
    """The model's reply on a turn, as its trace tells it (a fixed-line state's extraction)."""
    if not turn.model:
        return []
    if turn.state_before in prompt_states:
        notes.append(
            f"the model spoke in {turn.state_before} on response {turn.response_id}: script its "
            "reply on that turn (model:) for the test to run as the call did"
        )
        return []
    answer: dict[str, Any] = {}
    for found in turn.understood:
        if found.get("by") != "model":
            continue
        if found.get("kind") == "slot":
            value = found.get("value")
            answer[str(found["name"])] = (
                stand_in.get(str(found["name"])) if value == MASK else value
            )
        elif found.get("kind") == "intent":
            answer["intent"] = found.get("name")
    return [{"tool_calls": [{"name": "record_answer", "arguments": answer}]}]


def _actions(record: CallRecord, hide: _Hider, notes: list[str]) -> dict[str, Any]:
    """Each action answering what it answered on the call, run after run."""
    answers: dict[str, list[tuple[bool, Any]]] = {}
    for run in record.actions:
        if run.get("ok") is None:
            continue  # still running when the call ended: it answered nothing
        result = hide.value(run.get("result"))
        answers.setdefault(str(run.get("name")), []).append((bool(run.get("ok")), result))
    stubs: dict[str, Any] = {}
    for name, runs in answers.items():
        failed = [result for ok, result in runs if not ok]
        if failed:
            if len(failed) < len(runs):
                notes.append(f"{name} failed on some runs only; the test fails it on every run")
            error = failed[0].get("error") if isinstance(failed[0], Mapping) else None
            stubs[name] = {"fail": str(error or "failed")}
        elif all(result == runs[0][1] for _, result in runs):
            stubs[name] = {"result": runs[0][1] if runs[0][1] is not None else {}}
        else:
            stubs[name] = {"results": [result if result is not None else {} for _, result in runs]}
    return stubs


def _header(record: CallRecord, stand_in: Mapping[str, Any], notes: list[str]) -> str:
    when = record.started_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Written by `dialplan calls to-test {record.call_id}` from the recorded call: flow",
        f"# {record.flow} version {record.flow_version or '?'}, {when}, {record.outcome}.",
        "# Every expectation is what the call did: change the ones that were wrong to what the",
        "# flow should do, then fix the flow until `dialplan test` passes.",
    ]
    if stand_in:
        names = ", ".join(sorted(stand_in))
        lines.append(f"# Sensitive values ({names}) are placeholders, never the caller's.")
    lines += [f"# Note: {note}" for note in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"
