"""Flow files as immutable specs: what a person writes in ``flows/<name>.yaml``.

These models are the single source of the flow format: the loader validates files against
them, ``dialplan schema`` generates the JSON Schema from them, and the runtime reads them. They
hold plain data only (no compiled templates, clients or callables), are frozen, and refuse
unknown keys so that a misspelt key is an error instead of a silently ignored line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
"""A flow, state, slot or intent name: letters, digits and underscores."""

BUILTIN_SLOT_TYPES = (
    "text", "name", "number", "yes_no", "enum", "date", "time", "phone", "email", "identifier",
)  # fmt: skip
"""The slot types every project has; plugins may register more (checked when a flow loads)."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SlotSpec(_Spec):
    """A typed value the call collects (``slots:`` entry)."""

    type: Name = Field(
        description="How the value is understood, checked and read back: a built-in type or "
        "one a plugin registers.",
        json_schema_extra={"anyOf": [{"enum": list(BUILTIN_SLOT_TYPES)}, {"type": "string"}]},
    )
    description: str = Field("", description="What the value is; shown to the model.")
    label: str | None = Field(
        None,
        description="How the agent names the value to the caller (`date of birth`); default: "
        "the slot's name in words. A read-back asks `What should I fix: your name, ...?` with it.",
    )
    values: dict[str, tuple[str, ...]] | tuple[str, ...] | None = Field(
        None, description="enum: the allowed values, or a map of value to synonyms."
    )
    min: float | None = Field(None, description="number: smallest allowed value.")
    max: float | None = Field(None, description="number: largest allowed value.")
    past: bool = Field(False, description="date: must be before today (a date of birth).")
    future: bool = Field(False, description="date: must be today or later (a booking).")
    with_year: bool = Field(False, description="date: the caller must say the year.")
    region: str = Field("US", description="phone: region of numbers given without +country.")
    source: Literal["caller", "action"] = Field(
        "caller", description="`action`: set only by actions, never asked or heard from the caller."
    )
    sensitive: bool = Field(
        False,
        description="A value (a card or insurance number) never logged or traced, masked in "
        "`dialplan calls` output unless revealed; only the signed webhook carries it.",
    )
    early: bool = Field(
        True,
        description="Take the value whenever the caller gives it, before it is asked; `false`: "
        "only as the answer to its own question (or a correction of it).",
    )
    cues: tuple[str, ...] = Field(
        default_factory=tuple,
        description="Words that name this slot in what a caller says (`my birthday`, `pick "
        "up`): a value said with them goes to this slot. A `text` slot takes the words after "
        "a cue even before it is asked.",
    )
    hours: bool = Field(
        False, description="date, time: the value must fall within the flow's opening `hours`."
    )
    length: int | tuple[int, int] | None = Field(
        None,
        description="identifier: how many characters the value has, or `[fewest, most]`.",
    )
    pattern: str | None = Field(
        None,
        description="identifier: a regular expression the whole value (upper-case letters and "
        'digits, no spaces or dashes) must match, e.g. `"[A-Z]{3}[0-9]{6}"`.',
    )

    @model_validator(mode="after")
    def _enum_has_values(self) -> SlotSpec:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum slot needs `values`")
        if self.type != "enum" and self.values:
            raise ValueError("`values` only goes with `type: enum`")
        return self

    def spoken_label(self, name: str) -> str:
        """How the agent names this slot (``label``, else ``date_of_birth`` as words)."""
        return self.label or name.replace("_", " ")

    @field_validator("length")
    @classmethod
    def _length(cls, value: int | tuple[int, int] | None) -> int | tuple[int, int] | None:
        fewest, most = (value, value) if isinstance(value, int) else value or (1, 1)
        if not 1 <= fewest <= most:
            raise ValueError("`length` is a number of characters (at least 1), or [fewest, most]")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"`pattern` is not a valid regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _identifier_options(self) -> SlotSpec:
        for key in ("length", "pattern"):
            if getattr(self, key) is not None and self.type != "identifier":
                raise ValueError(f"`{key}` only goes with `type: identifier`")
        return self

    @cached_property
    def options(self) -> dict[str, tuple[str, ...]]:
        """Enum values mapped to their synonyms (empty for other types)."""
        if isinstance(self.values, dict):
            return {str(key): tuple(words) for key, words in self.values.items()}
        return {str(value): () for value in self.values or ()}

    @cached_property
    def lengths(self) -> tuple[int, int] | None:
        """An identifier's fewest and most characters (None: any length)."""
        if self.length is None:
            return None
        return (self.length, self.length) if isinstance(self.length, int) else self.length


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip


class OpeningHours(_Spec):
    """When the business takes bookings (``hours:``): the slots with ``hours: true`` check it."""

    open: str = Field(description='Earliest time, `HH:MM` (24-hour), e.g. `"17:00"`.')
    close: str = Field(description='Latest time, `HH:MM` (24-hour), e.g. `"21:30"`.')
    closed: tuple[Weekday, ...] = Field(
        default_factory=tuple, description="Days with no opening, e.g. `[monday]`."
    )

    @field_validator("open", "close", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        # Unquoted 17:00 is YAML 1.1's base-60 integer 1020: read it back as the time it was.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return f"{value // 60:02d}:{value % 60:02d}"
        if isinstance(value, str):
            hour, _, minute = value.strip().partition(":")
            if hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60:
                return f"{int(hour):02d}:{int(minute):02d}"
            raise ValueError(f"{value!r} is not a time as HH:MM")
        return value

    @field_validator("closed", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            return tuple(str(day).lower() for day in value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OpeningHours:
        if self.close < self.open:
            raise ValueError("`close` comes before `open`")
        return self


class Transition(_Spec):
    """One way out of a state: a guard (``when``), an intent, or neither (always)."""

    to: Name = Field(description="The state to go to.")
    when: str | None = Field(
        None, description="Guard: a Jinja expression over `slots` and `call`, e.g. `slots.name`."
    )
    intent: Name | None = Field(None, description="The caller's intent that takes this way.")
    description: str = Field("", description="What the intent means; shown to the model.")
    examples: tuple[str, ...] = Field(
        default_factory=tuple, description="Phrases that clearly mean this intent."
    )
    means: Literal["yes", "no"] | None = Field(
        None, description="Also recognise plain yes (or no) words as this intent."
    )
    say: str | None = Field(None, description="A line spoken while taking this way.")
    clear: tuple[Name, ...] = Field(
        default_factory=tuple, description="Slots to forget when taking this way (to ask again)."
    )


class GlobalIntent(_Spec):
    """An intent the caller may voice in any state (``global:`` entry)."""

    intent: Name = Field(description="The intent's name.")
    description: str = Field("", description="What the intent means; shown to the model.")
    examples: tuple[str, ...] = Field(
        default_factory=tuple, description="Phrases that clearly mean this intent."
    )
    to: Name | None = Field(None, description="The state to go to; omit to stay where the call is.")
    say: str | None = Field(None, description="A line spoken first (Jinja).")
    returns: bool = Field(
        False,
        alias="return",
        description="Come back to the state the call was in once the target state has spoken.",
    )


class ActionSpec(_Spec):
    """Work done on entering a state: a registered Python action or an HTTP webhook."""

    call: str | None = Field(None, description="Name of a registered Python action.")
    webhook: Webhook | None = Field(None, description="An HTTP request to make instead.")
    args: dict[str, Any] = Field(
        default_factory=dict, description="Arguments; string values are Jinja templates."
    )
    store: dict[str, str] = Field(
        default_factory=dict,
        description="Slots to set from the result: slot name -> expression over `result`.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ActionSpec:
        if (self.call is None) == (self.webhook is None):
            raise ValueError("an action needs exactly one of `call` and `webhook`")
        return self


class Webhook(_Spec):
    """An HTTP action: URL, headers and JSON body are templates; the JSON answer is the result."""

    url: str = Field(description="The URL (Jinja).")
    method: Literal["GET", "POST", "PUT", "PATCH"] = Field("POST", description="HTTP method.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers; values are Jinja templates. An `Idempotency-Key` is sent "
        "unless one is set here: the same for every attempt of one action with the same "
        "request in one call.",
    )
    body: dict[str, Any] | None = Field(
        None,
        description="The JSON body (not sent with GET); string values are Jinja templates, "
        "and one that is exactly one expression gives its value typed.",
    )
    timeout: float = Field(3.0, gt=0, le=30, description="Seconds the request may take.")


class RepairLine(_Spec):
    """One built-in conversation repair (``repair:`` entry): its line, and where it leads."""

    say: str | None = Field(
        None,
        description="The line (Jinja); default: the engine's own (see the guide's conversation "
        "repair).",
    )
    to: Name | None = Field(
        None,
        description="`human`: the state that puts the caller through (default: the target of "
        "a global `human` intent, else the flow's give-up state if it transfers); `cancel`: a "
        "state to end the call in instead of the engine's goodbye.",
    )
    examples: tuple[str, ...] = Field(
        default_factory=tuple,
        description="More phrases that ask for this, beside what is recognised by meaning.",
    )
    ask: str | None = Field(
        None,
        description="`cancel` only: the question asked first when the caller gives the thing "
        'up without saying to end the call ("scrap the whole thing"); default: "Do you want '
        'me to stop here?"',
    )
    waiting: str | None = Field(
        None,
        description="`hold` only: the line when the caller, asked to hold on, stays silent; "
        "default: \"I'm still here whenever you're ready.\"",
    )
    unavailable: str | None = Field(
        None,
        description="`human` only: said before the question again when no state of the flow "
        "puts the caller through; default: \"I'm sorry, there's no one I can put you through "
        'to on this line."',
    )


RepairOption = RepairLine | Literal[False]
EXTRA_LINES = {"ask": "cancel", "waiting": "hold", "unavailable": "human"}
"""The lines beside ``say`` a repair has, and the one repair that says each."""


class Repairs(_Spec):
    """Conversation repair every flow has without writing a state (``repair:``).

    Each is recognised by meaning in any state; `false` switches one off.
    """

    repeat: RepairOption = Field(
        default_factory=RepairLine,
        description='"Say that again": the current line once more; the call stays.',
    )
    hold: RepairOption = Field(
        default_factory=RepairLine,
        description='"Hold on": a short acknowledgement; nothing is taken, the question waits.',
    )
    cancel: RepairOption = Field(
        default_factory=RepairLine,
        description='"Never mind, bye": a polite goodbye; the call ends as `cancelled`.',
    )
    human: RepairOption = Field(
        default_factory=RepairLine,
        description='"Can I talk to someone?": to the state that puts the caller through.',
    )
    fix: RepairOption = Field(
        default_factory=RepairLine,
        description="A read-back the caller says is wrong without saying what: the question "
        "which item to fix (`{{ items }}` lists them).",
    )
    confirm: RepairOption = Field(
        default_factory=RepairLine,
        description="A value heard but not for sure: read back before it is stored "
        "(`{{ value }}` is the value as it would be read back).",
    )

    @model_validator(mode="after")
    def _extra_lines_where_they_are_said(self) -> Repairs:
        for key, owner in EXTRA_LINES.items():
            for name in ("repeat", "hold", "cancel", "human", "fix", "confirm"):
                option = self.option(name)
                if name != owner and option is not None and getattr(option, key) is not None:
                    raise ValueError(f"{name}.{key}: only `{owner}` has this line")
        return self

    def option(self, name: str) -> RepairLine | None:
        """The repair ``name`` as set, or ``None`` where it is switched off."""
        value = getattr(self, name)
        return value if isinstance(value, RepairLine) else None


class VoiceSettings(_Spec):
    """Turn-taking settings sent with ``update_agent`` on entering a state (``voice:``)."""

    responsiveness: float | None = Field(
        None, ge=0, le=1, description="How quickly the agent takes its turn (0 to 1)."
    )
    interruption_sensitivity: float | None = Field(
        None, ge=0, le=1, description="How easily the caller cuts into the agent (0 to 1)."
    )
    reminder_trigger_ms: int | None = Field(
        None, gt=0, description="Milliseconds of silence before a reminder is asked for."
    )
    reminder_max_count: int | None = Field(
        None, ge=0, description="The most reminders the platform asks for in a row."
    )


class State(_Spec):
    """One step of the call."""

    say: str | None = Field(None, description="A fixed line (Jinja) spoken with no model call.")
    prompt: str | None = Field(
        None, description="A prompt template file (under prompts/); the model speaks."
    )
    collect: tuple[Name, ...] = Field(
        default_factory=tuple, description="Slots this state asks for."
    )
    read_back: tuple[Name, ...] = Field(
        default_factory=tuple,
        description="Slots this state reads back for the caller to confirm: its plain way out "
        "is taken on a yes; `no` asks which item to fix, and `the date is wrong, it's the "
        "14th` (or any value said for one of them) corrects it, then the call comes back here.",
    )
    reask: str | None = Field(None, description="Line for when the answer was not understood.")
    reminder: str | None = Field(None, description="Line for a caller who went quiet.")
    retries: int = Field(2, ge=0, description="Failed answers before `on_give_up`.")
    reminders: int | None = Field(
        None, ge=0, description="Silent turns reminded before giving up (default: the flow's)."
    )
    visits: int | None = Field(
        None,
        ge=1,
        description="Times the call may enter this state before giving up (default: the "
        "flow's); ends loops such as asking again and again for a time that is taken.",
    )
    on_give_up: Name | None = Field(
        None,
        description="State to go to after too many failures, silences or visits (default: the "
        "flow's `on_give_up`; with neither, the call ends politely).",
    )
    actions: tuple[ActionSpec, ...] = Field(default_factory=tuple, description="Run on entering.")
    next: tuple[Transition, ...] = Field(
        default_factory=tuple, description="Ways out, tried in order."
    )
    end_call: bool = Field(False, description="Hang up after this state's line.")
    transfer: str | None = Field(
        None, description="Transfer to this number (Jinja) after the line."
    )
    press_digit: str | None = Field(None, description="DTMF digits to press after the line.")
    no_interruption: bool = Field(False, description="The caller cannot cut into this line.")
    voice: VoiceSettings | None = Field(
        None, description="`update_agent` turn-taking settings sent on entering this state."
    )
    context: Literal["full", "state"] = Field(
        "full", description="Transcript shown to the model: the whole call or since this state."
    )

    @model_validator(mode="after")
    def _say_or_prompt(self) -> State:
        if self.say is not None and self.prompt is not None:
            raise ValueError("a state has `say` or `prompt`, not both")
        if sum((self.end_call, self.transfer is not None, self.press_digit is not None)) > 1:
            raise ValueError("only one of `end_call`, `transfer` and `press_digit` per state")
        if self.read_back and self.collect:
            raise ValueError("a state either collects slots or reads them back, not both")
        return self

    @property
    def terminal(self) -> bool:
        """Whether the call leaves the agent here (hang-up, transfer, or keys for a menu)."""
        return self.end_call or self.transfer is not None or self.press_digit is not None


class Flow(_Spec):
    """A whole call flow (one YAML file)."""

    flow: Name = Field(description="The flow's name; also its URL segment.")
    description: str = Field("", description="What the flow is for (shown in the console).")
    persona: str | None = Field(None, description="System prompt template shared by all states.")
    begin: str = Field("", description="The greeting (Jinja); empty: the caller speaks first.")
    start: Name | None = Field(None, description="First state; default: the first one listed.")
    plugins: tuple[str, ...] = Field(
        default_factory=tuple,
        description="Python modules whose `plugin` provides the actions and slot types this "
        "flow uses, e.g. `myproject.actions`.",
    )
    time_zone: str | None = Field(
        None,
        description="IANA time zone of the flow's callers (`America/New_York`): what `today` "
        "and `tomorrow` mean. A call's `metadata.time_zone` wins; default: the project's.",
    )
    hours: OpeningHours | None = Field(
        None, description="Opening days and hours, checked by slots with `hours: true`."
    )
    reminders: int = Field(
        2, ge=0, description="Silent turns reminded in a row before a state gives up."
    )
    visits: int = Field(
        6, ge=1, description="Times the call may enter any one state before it gives up."
    )
    on_give_up: Name | None = Field(
        None, description="Where states without their own `on_give_up` go when they give up."
    )
    slots: dict[Name, SlotSpec] = Field(
        default_factory=dict, description="The typed values the call collects, by name."
    )
    states: dict[Name, State] = Field(
        min_length=1, description="The steps of the call, by name; the first is `start`'s default."
    )
    global_intents: tuple[GlobalIntent, ...] = Field(
        default_factory=tuple,
        alias="global",
        description="Intents a caller may voice in any state.",
    )
    repair: Repairs = Field(
        default_factory=Repairs,
        description="The built-in conversation repair: repeat, hold, cancel, a person, which "
        "item to fix, and confirming a value heard but not for sure. Set a line, a target or "
        "more examples, or `false` to switch one off.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_time_zone(value)
        return value

    def give_up_target(self, state: str) -> str | None:
        """Where ``state`` goes when it gives up: its own ``on_give_up``, else the flow's.

        A state that ends the call (hangs up, transfers) never gives up.
        """
        spec = self.states[state]
        target = spec.on_give_up or (None if spec.terminal else self.on_give_up)
        return None if target == state else target

    @property
    def start_state(self) -> str:
        """The state a call begins in."""
        return self.start or next(iter(self.states))


ActionSpec.model_rebuild()


def check_time_zone(name: str) -> ZoneInfo:
    """The zone called ``name``; ``ValueError`` naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as 'America/New_York')"
        ) from None


def string_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every string leaf of nested dicts and lists, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_leaves(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from string_leaves(item, (*path, index))


SCHEMA_PATH = Path(__file__).parent.parent / "schema" / "flow.schema.json"
"""Where the committed JSON Schema lives (flow files point editors at it)."""


def flow_json_schema() -> str:
    """The JSON Schema of flow files, generated from these models (stable key order)."""
    schema = Flow.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dialplan flow"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
