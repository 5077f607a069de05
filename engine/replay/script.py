"""A recorded call as a script to play again: what the caller said, turn by turn.

The call log keeps, for every request the platform made, how long the transcript was and how
the turn ended. The caller's words of a turn are exactly what the conversation read then: the
caller's lines after the agent's last one in that much of the transcript. Turns that were
superseded (the caller went on speaking) or cut off (the socket closed) did nothing, so they
are not played; their words reach the next turn, as they did on the call. A reminder turn is
a silence.

The script also holds what the call did (the states it asked each answer in, what it said,
its path, slots and outcome), which is what a replay is compared with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from engine.agent import MASK
from engine.records import CallRecord

StepKind = Literal["say", "silence"]


@dataclass(frozen=True)
class Step:
    """One turn the caller took on the recorded call, and what the call did with it."""

    kind: StepKind
    words: str
    """What the caller said since the agent last spoke ("" for a silence)."""
    asked_in: str | None
    """The state the call was in when the words came: the question they answer."""
    question: str
    """What the agent said last before the words."""
    said: str
    """What the agent answered."""
    state_after: str | None
    sensitive: bool = False
    """The words gave a sensitive value (they are masked wherever they are shown)."""
    model_used: bool = False


@dataclass(frozen=True)
class CallScript:
    """A recorded call, ready to play again."""

    call_id: str
    flow: str
    version: str | None
    started_at: datetime
    details: Mapping[str, Any]
    greeting: str
    steps: tuple[Step, ...]
    outcome: str
    path: tuple[str, ...]
    slots: Mapping[str, Any]
    sensitive: frozenset[str]
    actions: tuple[Mapping[str, Any], ...] = ()
    rollout: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def model_used(self) -> bool:
        """Whether the model was asked on the call (a replay without one may differ there)."""
        return any(step.model_used for step in self.steps)


class Unplayable(Exception):
    """A record that cannot be played again (the reason is the message)."""


PLAYED = ("complete", "fallback")
"""Turns that happened: answered, or answered with the fallback line (and undone)."""


def script_of(record: CallRecord) -> CallScript:
    """The script of ``record``; raises :class:`Unplayable` for a record that is none."""
    if record.flow is None:
        raise Unplayable("the call ran no flow")
    if not record.turns:
        raise Unplayable("the record holds no turns")
    if any(value == MASK for name, value in record.slots.items() if name in record.sensitive):
        raise Unplayable("its sensitive values are masked (export the calls with --reveal)")
    transcript = record.transcript
    greeting = ""
    steps: list[Step] = []
    for turn in record.turns:
        if turn.outcome not in PLAYED:
            continue
        if turn.kind == "greeting":
            greeting = turn.said
            continue
        heard = transcript[: min(turn.transcript_len, len(transcript))]
        words, question = _last_words(heard)
        steps.append(
            Step(
                kind="silence" if turn.kind == "reminder" else "say",
                words="" if turn.kind == "reminder" else words,
                asked_in=turn.state_before,
                question=question,
                said=turn.said,
                state_after=turn.state_after,
                sensitive=turn.sensitive,
                model_used=bool(turn.model),
            )
        )
    return CallScript(
        call_id=record.call_id,
        flow=record.flow,
        version=record.flow_version,
        started_at=record.started_at,
        details=dict(record.details),
        greeting=greeting,
        steps=tuple(steps),
        outcome=record.outcome,
        path=tuple(record.path),
        slots=dict(record.slots),
        sensitive=frozenset(record.sensitive),
        actions=tuple(record.actions),
        rollout=record.rollout,
    )


def _last_words(transcript: Sequence[Mapping[str, str]]) -> tuple[str, str]:
    """The caller's words after the agent's last line, and that line (as the turn read them)."""
    words: list[str] = []
    question = ""
    for utterance in reversed(transcript):
        if utterance.get("role") == "agent":
            question = utterance.get("content", "")
            break
        content = utterance.get("content", "").strip()
        if utterance.get("role") == "user" and content:
            words.append(content)
    return " ".join(reversed(words)), question
