"""A call's record: what it collected, how it went, turn by turn; and how it is shown masked.

A :class:`CallRecord` is what the call log stores and the webhook sends. It holds the slot
values in clear (the webhook's receiver needs them); every place that shows a record to a
person (``dialplan calls``) shows :func:`masked` unless asked to reveal. The per-turn trace is
masked already when it is recorded, so it never holds a sensitive value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from pydantic import Field

from engine.agent import MASK, ActionRun, CallInfo, CallSummary
from engine.protocol import Utterance
from engine.protocol.inbound import Span
from engine.templates import SPOKEN_FILTERS

from .transcript import timed, with_last_answer
from .turn import TurnOutcome, TurnRecord, _Record

__all__ = [  # the record's parts, with the turn's (:mod:`.turn`), in one place
    "OUTCOMES",
    "CallFacts",
    "CallRecord",
    "Outcome",
    "Placement",
    "PlatformReport",
    "TurnOutcome",
    "TurnRecord",
    "build_record",
    "mask_text",
    "masked",
    "outcome",
    "secrets_of",
]

Outcome: TypeAlias = Literal[
    "completed", "transferred", "cancelled", "gave_up", "abandoned", "error"
]
"""How a call ended: the agent hung up; transferred; retries ran out; the caller hung up
mid-flow (or the socket was gone past the grace period); the last turn failed."""

OUTCOMES: tuple[Outcome, ...] = (
    "completed",
    "transferred",
    "cancelled",
    "gave_up",
    "abandoned",
    "error",
)


class Placement(_Record):
    """How dialplan placed a call: the create request's key, and its batch and row if any."""

    id: str
    """The create request's idempotency key."""
    batch: str | None = None
    row: int | None = None
    """The line of the batch file."""
    placed_at: datetime


LIFECYCLE = (
    "call_started",
    "transfer_started",
    "transfer_bridged",
    "transfer_cancelled",
    "transfer_ended",
    "call_ended",
    "call_analyzed",
)
"""The platform's call events in the order they describe a call (later ones know more)."""


class PlatformReport(_Record):
    """A call as the platform's events describe it (its ``call`` objects, folded in order)."""

    events: list[str] = Field(default_factory=list)
    call_status: str | None = None
    disconnection_reason: str | None = None
    """``user_hangup``, ``agent_hangup``, ``call_transfer``, ``dial_no_answer``, ..."""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int | None = None
    recording_url: str | None = None
    public_log_url: str | None = None
    transfer_destination: str | None = None
    analysis: dict[str, Any] | None = None
    """``call_analysis``: ``call_summary``, ``user_sentiment``, ``call_successful``, ..."""
    cost: float | None = None
    """``call_cost.combined_cost``, in :attr:`cost_unit`."""
    cost_unit: str | None = None
    """What :attr:`cost` counts: ``USD cents``, as the platform reports its costs."""

    @classmethod
    def fold(cls, events: Iterable[tuple[str, Mapping[str, Any]]]) -> PlatformReport:
        """The report of ``(event, call object)`` pairs, in the order they were received.

        Events are taken in the order of a call's life, so a late ``call_ended`` never hides
        what ``call_analyzed`` said; each fills in what it knows.
        """
        ordered = sorted(
            enumerate(events),
            key=lambda item: (_rank(item[1][0]), item[0]),
        )
        fields: dict[str, Any] = {"events": [name for _, (name, _call) in ordered]}
        for _, (_name, call) in ordered:
            cost = call.get("call_cost")
            found = {
                "call_status": _text(call.get("call_status")),
                "disconnection_reason": _text(call.get("disconnection_reason")),
                "started_at": _moment(call.get("start_timestamp")),
                "ended_at": _moment(call.get("end_timestamp")),
                "duration_ms": _int(call.get("duration_ms")),
                "recording_url": _text(call.get("recording_url")),
                "public_log_url": _text(call.get("public_log_url")),
                "transfer_destination": _text(call.get("transfer_destination")),
                "analysis": _mapping(call.get("call_analysis")) or None,
                "cost": _float(cost.get("combined_cost")) if isinstance(cost, Mapping) else None,
            }
            fields.update({key: value for key, value in found.items() if value is not None})
        if (
            fields.get("duration_ms") is None
            and fields.get("started_at")
            and fields.get("ended_at")
        ):
            span = fields["ended_at"] - fields["started_at"]
            fields["duration_ms"] = round(span.total_seconds() * 1000)
        if fields.get("cost") is not None:
            fields["cost_unit"] = COST_UNIT
        return cls(**fields)


COST_UNIT = "USD cents"
"""The unit of the platform's ``call_cost`` figures."""


def _rank(event: str) -> int:
    return LIFECYCLE.index(event) if event in LIFECYCLE else len(LIFECYCLE)


def _moment(value: object) -> datetime | None:
    # The platform's timestamps are Unix milliseconds.
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class CallRecord(_Record):
    """Everything kept of one call; ``docs/call-log.md`` says what each field holds."""

    call_id: str
    flow: str | None = None
    flow_version: str | None = None
    agent_id: str | None = None
    call_type: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    dynamic_variables: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    """The platform's ``call`` object as it arrived in ``call_details``."""
    started_at: datetime
    ended_at: datetime | None = None
    """``None`` while the call goes on (a ``call.transferred`` record)."""
    duration_s: float | None = None
    outcome: Outcome
    transfer_number: str | None = None
    error: str | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    sensitive: list[str] = Field(default_factory=list)
    """Names of the slots whose values are masked wherever a record is shown."""
    path: list[str] = Field(default_factory=list)
    actions: list[dict[str, Any]] = Field(default_factory=list)
    """``{name, state, arguments, result, ok}`` for each action run."""
    transcript: list[dict[str, Any]] = Field(default_factory=list)
    """The whole conversation: the last transcript the platform sent and the agent's answer
    after it, ``{role, content}`` per line with when it was said (``start``, ``end`` in
    seconds from the call's start; ``timing``: ``platform`` or ``server``) and, for an
    agent's answer, ``response_id`` and ``latency_ms`` (:mod:`engine.records.transcript`)."""
    turns: list[TurnRecord] = Field(default_factory=list)
    placed: Placement | None = None
    """Set when dialplan placed the call (``dialplan call``), alone or as a batch's row."""
    platform: PlatformReport | None = None
    """What the platform's call events (its webhook) said of the call, once they came."""
    rollout: dict[str, Any] | None = None
    """``{arm: stable|candidate, share, candidate}`` when a rollout chose the call's version."""

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (what the webhook sends and ``--json`` prints)."""
        return self.model_dump(mode="json")


@dataclasses.dataclass(frozen=True)
class CallFacts:
    """What the server knows of a call when it writes the record (besides the conversation)."""

    call: CallInfo
    summary: CallSummary
    turns: Sequence[TurnRecord]
    transcript: Sequence[Utterance]
    started_at: float
    """Unix seconds."""
    ended_at: float | None
    """Unix seconds: when the call's last socket closed (or the server let go of it)."""
    ended_by: Literal["hang_up", "transfer"] | None = None
    transfer_number: str | None = None
    rollout: Mapping[str, Any] | None = None
    """How a rollout chose the call's version (its arm), if one did."""
    spans: Sequence[Span] = ()
    """When each line of ``transcript`` was said, from the platform's word timings."""


def outcome(facts: CallFacts) -> Outcome:
    """How the call went, from who ended it and how its last turn ended.

    Retries running out is the most telling (such a call is usually transferred to a person
    next); then a caller who gave up on the call ("never mind, bye"); then a transfer or the
    agent's hang-up; a caller who hangs up right after a failed turn is an error; anyone else
    who hangs up before the agent is done abandoned the call.
    """
    if facts.summary.gave_up:
        return "gave_up"
    if facts.summary.cancelled:
        return "cancelled"
    if facts.ended_by == "transfer":
        return "transferred"
    if facts.ended_by == "hang_up":
        return "completed"
    answered = [t for t in facts.turns if t.outcome in ("complete", "fallback")]
    if answered and answered[-1].outcome == "fallback":
        return "error"
    return "abandoned"


def build_record(facts: CallFacts) -> CallRecord:
    """The record of a call from the facts the server has at its end (or at a transfer)."""
    details = dict(facts.call.details)
    summary = facts.summary
    secrets = _secrets(summary.slots, summary.sensitive)
    started = datetime.fromtimestamp(facts.started_at, UTC)
    ended = datetime.fromtimestamp(facts.ended_at, UTC) if facts.ended_at is not None else None
    failures = [t.error for t in facts.turns if t.error]
    return CallRecord(
        call_id=facts.call.call_id,
        flow=summary.flow or facts.call.flow,
        flow_version=summary.flow_version,
        agent_id=_text(details.get("agent_id")),
        call_type=_text(details.get("call_type")),
        direction=_text(details.get("direction")),
        from_number=_text(details.get("from_number")),
        to_number=_text(details.get("to_number")),
        metadata=_mapping(details.get("metadata")),
        dynamic_variables=_mapping(details.get("retell_llm_dynamic_variables")),
        details=details,
        started_at=started,
        ended_at=ended,
        duration_s=(
            round(facts.ended_at - facts.started_at, 3) if facts.ended_at is not None else None
        ),
        outcome=outcome(facts),
        transfer_number=facts.transfer_number,
        error=failures[-1] if failures else None,
        slots=dict(summary.slots),
        sensitive=sorted(summary.sensitive),
        path=list(summary.path),
        actions=[_action(run) for run in summary.actions],
        transcript=_agent_lines_masked(_transcript(facts, started), facts.turns),
        # The agent may read a sensitive value back; the stored trace never holds it.
        turns=[_turn_masked(t, secrets) for t in facts.turns],
        rollout=dict(facts.rollout) if facts.rollout is not None else None,
    )


def _transcript(facts: CallFacts, started: datetime) -> list[dict[str, Any]]:
    """The call's whole transcript (its last answer too), each line with its time."""
    lines = [{"role": u.role, "content": u.content} for u in facts.transcript]
    return timed(with_last_answer(lines, facts.turns), facts.spans, facts.turns, started)


def _turn_masked(turn: TurnRecord, secrets: Sequence[str]) -> TurnRecord:
    """A turn as stored: its words as rendered for storage, else with every secret masked."""
    said = turn.said_masked if turn.said_masked is not None else turn.said
    return turn.model_copy(update={"said": mask_text(said, secrets), "said_masked": None})


def _agent_lines_masked(
    transcript: Sequence[Mapping[str, Any]], turns: Sequence[TurnRecord]
) -> list[dict[str, Any]]:
    """The transcript, the agent's lines that held a sensitive value as rendered for storage.

    The platform sends back what the agent said (all of it, or what was said before the caller
    cut in): a line that is one of the agent's answers, or the start of one, is replaced.
    """
    spoken = [(t.said.strip(), t.said_masked.strip()) for t in turns if t.said_masked]
    lines = []
    for utterance in transcript:
        content = str(utterance.get("content", ""))
        if utterance.get("role") == "agent" and spoken:
            said = content.strip()
            for clear, hidden in spoken:
                if said and (said == clear or (len(said) >= MIN_PREFIX and clear.startswith(said))):
                    content = hidden
                    break
        lines.append({**utterance, "content": content})
    return lines


# -- masking ------------------------------------------------------------------------------------


def masked(record: CallRecord) -> CallRecord:
    """``record`` as shown to a person: sensitive slots, and where they were said, masked."""
    if not record.sensitive:
        return record
    secrets = _secrets(record.slots, record.sensitive)
    slots = {k: MASK if k in record.sensitive else v for k, v in record.slots.items()}
    hidden = _sensitive_lines(record)
    transcript = [
        {**u, "content": MASK if i in hidden else mask_text(u.get("content", ""), secrets)}
        for i, u in enumerate(_agent_lines_masked(record.transcript, record.turns))
    ]
    platform = record.platform
    if platform is not None and platform.analysis:
        # The platform's own summary of the call may quote what the caller said.
        platform = platform.model_copy(update={"analysis": mask_value(platform.analysis, secrets)})
    return record.model_copy(
        update={
            "slots": slots,
            "transcript": transcript,
            "platform": platform,
            "actions": mask_value(record.actions, secrets),
            "turns": [_turn_masked(t, secrets) for t in record.turns],
        }
    )


MIN_PREFIX = 12
"""Characters of an agent's line, cut short by the caller, that identify the answer it began."""


def spoken_forms(value: str) -> set[str]:
    """``value`` as it is written and as every voice filter says it (what a line may hold)."""
    forms = {value, value.upper(), value.lower(), " ".join(value), ", ".join(value)}
    for name, speak in SPOKEN_FILTERS.items():
        if name == "spoken_list":
            continue
        forms.add(speak(value))
    for group in range(1, 5):
        forms.add(SPOKEN_FILTERS["digits"](value, group))
    for year, weekday in ((False, False), (False, True), (True, True)):
        forms.add(SPOKEN_FILTERS["spoken_date"](value, year, weekday))
    return {form for form in forms if form.strip()}


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced by the mask."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def mask_value(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` (nested lists and dicts) with secrets masked in every string."""
    if not secrets:
        return value
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, Mapping):
        return {k: mask_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v, secrets) for v in value]
    return value


def secrets_of(summary: CallSummary) -> list[str]:
    """The sensitive values a call has collected so far, as :func:`mask_text` takes them."""
    return _secrets(summary.slots, summary.sensitive)


def _secrets(slots: Mapping[str, Any], sensitive: Iterable[str]) -> list[str]:
    # Every form the agent can say a value in (spelled, in digit groups, as a date), longest
    # first, so that a value containing another is masked whole. Very short values ("1")
    # would mask unrelated text and say little: they are masked only as slot values.
    values = {str(slots[name]) for name in sensitive if slots.get(name) is not None}
    forms = {form for value in values for form in spoken_forms(value)}
    return sorted((v for v in forms if len(v) >= 3), key=len, reverse=True)


def _sensitive_lines(record: CallRecord) -> set[int]:
    """Indexes of the caller's utterances in turns where a sensitive value was understood."""
    hidden: set[int] = set()
    for turn in record.turns:
        if not turn.sensitive:
            continue
        index = min(turn.transcript_len, len(record.transcript)) - 1
        while index >= 0 and record.transcript[index].get("role") != "agent":
            hidden.add(index)
            index -= 1
    return hidden


def _action(run: ActionRun) -> dict[str, Any]:
    return dataclasses.asdict(run)


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}
