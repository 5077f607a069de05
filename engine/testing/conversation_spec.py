"""Conversation test files: what a flow author writes in ``tests/conversations/<name>.yaml``.

A file names a flow and lists tests; each test is a scripted call, turn by turn, with what the
agent must do after each turn and by the end::

    flow: clinic_intake          # a flow name (in the flows folder) or a path to a .yaml file
    today: 2026-11-25            # optional: "today" for date slots (a test may set its own)
    call: {metadata: {clinic_name: Northside Clinic}}   # optional: the call details
    tests:
      - name: happy path
        turns:
          - agent: {says: full name}           # optional, first only: the greeting
          - caller: My name is Dana Scully
            expect: {state: ask_dob, says: date of birth, model_called: false}
          - caller: I'd rather not say
            model:                             # the model's replies on this turn, in order
              - text: "Sure. "
                tool_calls: [{name: set_date_of_birth, arguments: {value: "1980-03-03"}}]
          - silence: true                      # the caller says nothing: a reminder turn
            expect: {says_regex: "still there"}
        expect: {slots: {full_name: Dana Scully}, path: [ask_name, ask_dob, ask_reason]}

Expectations (all optional), on a turn and at the end:

* ``state``: the state the call is in.
* ``says``: a phrase (or a list of phrases) the agent said, case-insensitive; at the end,
  anywhere in the call. ``not_says`` is the opposite, ``says_regex`` a regular expression.
* ``slots``: the slots named hold these values (others may be filled too); ``null`` means not
  filled. An unquoted ``1980-03-03`` or ``18:30`` compares as written.
* ``ended``: the agent hung up on this turn (at the end: during the call).
* ``transferred``: a number, or ``true``/``false``: the agent transferred on this turn (at the
  end: during the call).
* ``model_called``: the model was asked on this turn (at the end: during the call).
* ``path``, at the end only: every state entered, in order.
* ``called``: actions called on this turn (at the end: during the call), by name: ``true``
  (called), ``false`` (not called), or the arguments it must have been given (those named;
  a webhook's JSON body).

Actions are stubbed: nothing is sent and no Python action runs; each returns ``{}`` unless the
file (``actions:``, for every test) or a test (its own ``actions:``) declares what it does::

    actions:
      booking.book: {result: {booked: true, reference: R1}}   # returns this
      booking.check: {results: [{available: false}, {available: true}]}   # one per run
      "webhook:lookup:0": {fail: "HTTP 503"}                   # fails (the flow sees result.error)
      booking.check: {live: true}                               # runs for real

A webhook's name is ``webhook:<state>:<index>`` (its place in the flow). ``dialplan test
--live-actions`` runs every action for real.

The models refuse unknown keys, and every mistake is reported as ``file:line: message``, like
flow files (:mod:`engine.loader`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.errors import AuthoringError, AuthoringErrors, Location
from engine.flow import Stub, safe_yaml
from engine.flow.authored import known_keys, read_document, schema_errors

Texts = str | list[str]
"""One phrase, or several that must all (``says``) or all not (``not_says``) be spoken."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScriptedToolCall(_Model):
    """A tool the scripted model calls, e.g. ``{name: set_date_of_birth, arguments: {...}}``."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptedReply(_Model):
    """One answer of the scripted model: words, tool calls, or both."""

    text: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> ScriptedReply:
        if not self.text and not self.tool_calls:
            raise ValueError("a model reply needs `text` or `tool_calls`")
        return self


class ActionStubSpec(_Model):
    """What a stubbed action does in a test: return ``result``, ``fail``, or run (``live``).

    ``results`` returns one answer per run, in turn (the last again after).
    """

    result: Any = None
    results: list[Any] | None = Field(None, min_length=1)
    fail: str | None = Field(None, min_length=1)
    live: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> ActionStubSpec:
        chosen = [
            self.result is not None,
            self.results is not None,
            self.fail is not None,
            self.live,
        ]
        if sum(chosen) != 1:
            raise ValueError(
                "an action stub has exactly one of `result`, `results`, `fail` and `live: true`"
            )
        return self


ActionStubs = dict[str, ActionStubSpec]


def stubs_of(specs: ActionStubs) -> dict[str, Stub]:
    """The runner's :class:`Stub` for each declared action (``result`` defaults to ``{}``)."""
    return {
        name: Stub(
            result=spec.result if spec.result is not None else {},
            fail=spec.fail,
            live=spec.live,
            results=tuple(spec.results or ()),
        )
        for name, spec in specs.items()
    }


class Expect(_Model):
    """What the agent must have done on one turn (every key optional)."""

    state: str | None = None
    says: Texts | None = None
    says_regex: str | None = None
    not_says: Texts | None = None
    slots: dict[str, Any] | None = None
    ended: bool | None = None
    transferred: bool | int | str | None = None
    model_called: bool | None = None
    called: dict[str, bool | dict[str, Any]] | None = None

    @field_validator("says_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class FinalExpect(Expect):
    """What must hold after the last turn; ``says``, ``ended`` and the like cover the call."""

    path: list[str] | None = None


class ConversationTurn(_Model):
    """One step of a test: the greeting (``agent``), the caller speaking, or a silence."""

    agent: Expect | None = None
    caller: str | None = None
    silence: Literal[True] | None = None
    model: list[ScriptedReply] = Field(default_factory=list)
    expect: Expect | None = None

    @field_validator("model", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value  # a single reply needs no list

    @model_validator(mode="after")
    def _one_kind(self) -> ConversationTurn:
        kinds = [k for k in ("agent", "caller", "silence") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a turn has exactly one of `agent`, `caller` and `silence`")
        if self.agent is not None and (self.model or self.expect is not None):
            raise ValueError("an `agent` turn holds its expectations itself, no `model`/`expect`")
        if self.silence is not None and self.model:
            raise ValueError("the model is never asked on a silence (reminder) turn")
        return self

    @property
    def kind(self) -> Literal["agent", "caller", "silence"]:
        """Which of the three kinds of turn this is."""
        if self.agent is not None:
            return "agent"
        return "caller" if self.caller is not None else "silence"


class ConversationTest(_Model):
    """One scripted call."""

    name: str = Field(min_length=1)
    today: date | None = None
    call: dict[str, Any] | None = None
    actions: ActionStubs = Field(default_factory=dict)
    turns: list[ConversationTurn] = Field(min_length=1)
    expect: FinalExpect | None = None

    @property
    def uses_model(self) -> bool:
        """Whether any turn scripts the model (otherwise the test runs without one)."""
        return any(turn.model for turn in self.turns)


class ConversationFile(_Model):
    """A whole conversation test file."""

    flow: str = Field(min_length=1, description="A flow name, or a path to a flow file.")
    today: date | None = None
    call: dict[str, Any] = Field(default_factory=dict)
    actions: ActionStubs = Field(default_factory=dict)
    tests: list[ConversationTest] = Field(min_length=1)


class ActionStubsFile(_Model):
    """A file of action stubs alone (``dialplan chat --actions FILE``): ``actions:`` only."""

    actions: ActionStubs = Field(default_factory=dict)


@dataclass(frozen=True)
class LoadedConversations:
    """A checked conversation file, with its located YAML tree for ``file:line`` messages."""

    spec: ConversationFile
    path: Path
    lines: Any

    def line(self, *path: Any) -> int | None:
        """The line of an entry, e.g. ``line("tests", 0, "turns", 2)``."""
        return safe_yaml.line_of(self.lines, path)

    def where(self, *path: Any) -> Location:
        """A :class:`Location` for an entry of this file."""
        return Location(str(self.path), self.line(*path))


_KNOWN_KEYS = known_keys(
    (
        ConversationFile,
        ConversationTest,
        ConversationTurn,
        FinalExpect,
        ScriptedReply,
        ScriptedToolCall,
        ActionStubSpec,
    )
)


def load_action_stubs(path: Path) -> ActionStubs:
    """The ``actions:`` of a stubs file, or of a conversation test file (checked whole).

    Raises :class:`AuthoringErrors` for every mistake, as ``file:line: message``.
    """
    _text, data = read_document(path)
    if isinstance(data, dict) and "tests" in data:
        return load_conversations(path).spec.actions
    if not isinstance(data, dict):
        message = "an actions file is a mapping with `actions:` (as in a conversation test file)"
        raise AuthoringErrors([AuthoringError(message, Location(str(path), 1))])
    try:
        return ActionStubsFile.model_validate(data).actions
    except ValidationError as exc:
        raise AuthoringErrors(schema_errors(path, data, exc, _KNOWN_KEYS)) from None


def load_conversations(path: Path) -> LoadedConversations:
    """Parse and check a conversation file; raise :class:`AuthoringErrors` for every mistake."""
    _text, data = read_document(path)
    if not isinstance(data, dict):
        message = "a conversation test file is a mapping with `flow:` and `tests:`"
        raise AuthoringErrors([AuthoringError(message, Location(str(path), 1))])
    try:
        spec = ConversationFile.model_validate(data)
    except ValidationError as exc:
        raise AuthoringErrors(schema_errors(path, data, exc, _KNOWN_KEYS)) from None
    loaded = LoadedConversations(spec, path, data)
    errors = []
    names: dict[str, int] = {}
    for index, test in enumerate(spec.tests):
        if test.name in names:
            errors.append(
                AuthoringError(
                    f"tests.{index}.name: a second test named {test.name!r}",
                    loaded.where("tests", index, "name"),
                    f"the first is test {names[test.name] + 1}; test names must differ",
                )
            )
        names.setdefault(test.name, index)
        for number, turn in enumerate(test.turns[1:], start=1):
            if turn.kind == "agent":
                errors.append(
                    AuthoringError(
                        f"tests.{index}.turns.{number}.agent: only the first turn can be `agent`",
                        loaded.where("tests", index, "turns", number, "agent"),
                        "it holds expectations on the greeting; later lines go in `expect`",
                    )
                )
    if errors:
        raise AuthoringErrors(errors)
    return loaded
