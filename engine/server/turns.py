"""What a session keeps of each request, for the call log; and a request asked again.

Each request, answered or not, becomes a :class:`~engine.records.TurnRecord`: what only the
session knows (response id, time to first speech, how the turn ended) with the conversation's
own trace of it. The call's turns also tell whether a request is one the call answered already
(:func:`answered`): the platform asks again on a new socket after the server that answered went
away, and the answer is said again rather than the caller's words applied twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.agent import MASK, Turn, summary_of, trace_of
from engine.protocol import CallControl
from engine.records import TurnRecord, mask_text, secrets_of

from .store import CallState


@dataclass(slots=True)
class Answer:
    """A request being answered: what the session has seen of it so far."""

    turn: Turn
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    first_speech: float | None = None
    """Seconds from the request to the first words sent."""
    said: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    """The same words with sensitive values hidden, as the call log keeps them."""
    hidden: bool = False
    outcome: str = "complete"
    error: str | None = None

    def spoke(self, text: str, masked: str | None = None) -> float | None:
        """Words went out; for the turn's first words, the seconds it took to them.

        ``masked`` is the same words with sensitive values hidden, where they held one.
        """
        self.said.append(text)
        self.stored.append(text if masked is None else masked)
        self.hidden = self.hidden or masked is not None
        if self.first_speech is not None:
            return None
        self.first_speech = time.perf_counter() - self.started
        return self.first_speech

    def record(self, conversation: object, control: CallControl | None) -> TurnRecord:
        """The record of the turn (``control`` is ``None`` for one that was not answered)."""
        turn, first = self.turn, self.first_speech
        return TurnRecord.build(
            trace_of(conversation) if control is not None else None,
            response_id=turn.response_id,
            kind="reminder" if turn.reminder else "response",
            started_at=self.started_at,
            outcome=self.outcome,
            transcript_len=len(turn.transcript),
            said="".join(self.said),
            said_masked="".join(self.stored) if self.hidden else None,
            first_speech_ms=round(first * 1000, 1) if first is not None else None,
            duration_ms=round((time.perf_counter() - self.started) * 1000, 1),
            end_call=bool(control and control.end_call),
            transfer_number=control.transfer_number if control else None,
            error=self.error,
        )


def note_ending(state: CallState, control: CallControl) -> bool:
    """Note how an answered turn ends the call, if it does; ``True`` for a new transfer.

    A call is sent as transferred once, however often the platform asks for the turn again.
    """
    if control.end_call:
        state.ended_by = "hang_up"
    elif control.transfer_number:
        first = state.ended_by != "transfer"
        state.ended_by, state.transfer_number = "transfer", control.transfer_number
        return first
    return False


def caller_words(turn: Turn, record: TurnRecord, conversation: object) -> str:
    """What the caller said for ``turn``, for the DEBUG log, sensitive values masked.

    The whole line is masked in the turn that gave a sensitive value: the words are the value.
    """
    if record.sensitive:
        return MASK
    return mask_text(last_caller_words(turn), secrets_of(summary_of(conversation)))


def last_caller_words(turn: Turn) -> str:
    """What the caller said since the agent last spoke ("" for a silence)."""
    words: list[str] = []
    for utterance in reversed(turn.transcript):
        if utterance.role == "agent":
            break
        if utterance.role == "user":
            words.append(utterance.content)
    return " ".join(reversed(words))


def answered(state: CallState, turn: Turn) -> TurnRecord | None:
    """The call's last answer, if ``turn`` is the very request it answered."""
    for done in reversed(state.turns):
        if done.outcome in ("complete", "fallback"):
            same = done.response_id == turn.response_id and done.kind != "greeting"
            if same and done.transcript_len == len(turn.transcript):
                return done
            return None
    return None


def traced(record: TurnRecord) -> dict[str, Any]:
    """What a turn's span says of it (:mod:`engine.tracing`): never what the caller said.

    How the caller was understood is told by kind, name and source (``slot full_name by
    parser``), without the value: values are the caller's personal data.
    """
    attributes: dict[str, Any] = {
        "dialplan.turn.kind": record.kind,
        "dialplan.turn.outcome": record.outcome,
        "dialplan.turn.model_used": record.model is not None,
        "dialplan.turn.understood": [
            f"{found.get('kind')} {found.get('name')} by {found.get('by')}"
            for found in record.understood
        ],
    }
    optional = {
        "dialplan.state.before": record.state_before,
        "dialplan.state.after": record.state_after,
        "dialplan.turn.plan": record.plan,
        "dialplan.turn.first_speech_ms": record.first_speech_ms,
        "dialplan.turn.moves": [f"{m.get('target')} ({m.get('how')})" for m in record.moves]
        or None,
        "dialplan.turn.model_requests": (record.model or {}).get("requests"),
        "dialplan.turn.end_call": record.end_call or None,
        "dialplan.turn.transfer": bool(record.transfer_number) or None,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    return attributes
