"""One turn of a call's record: a request of the platform and what the agent did with it."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from engine.agent import MASK, TurnTrace

TurnOutcome: TypeAlias = Literal["complete", "fallback", "superseded", "cut_off"]
"""How a turn ended: answered; failed (the fallback line was spoken); a newer request
replaced it; the socket closed under it."""


class _Record(BaseModel):
    """A part of a call's record: immutable, and lenient with fields of later versions."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class TurnRecord(_Record):
    """One request of the platform and what the agent did with it."""

    response_id: int
    kind: Literal["greeting", "response", "reminder"] = "response"
    started_at: datetime
    outcome: TurnOutcome = "complete"
    transcript_len: int = 0
    """Utterances in the request's transcript (what the caller said is its tail)."""
    said: str = ""
    """The agent's words (in the call log, sensitive values masked)."""
    said_masked: str | None = None
    """The agent's words as rendered for storage, sensitive values hidden (``None``: the
    words held none). Replaces ``said`` when the record is written."""
    first_speech_ms: float | None = None
    duration_ms: float = 0.0
    end_call: bool = False
    transfer_number: str | None = None
    error: str | None = None
    state_before: str | None = None
    state_after: str | None = None
    plan: str | None = None
    understood: list[dict[str, Any]] = Field(default_factory=list)
    """``{kind: slot|intent, name, value, by: parser|model}`` (sensitive values masked)."""
    moves: list[dict[str, Any]] = Field(default_factory=list)
    """``{source, target, how}``: states entered, and the guard or intent that led there."""
    refused: list[str] = Field(default_factory=list)
    gave_up: bool = False
    model: dict[str, Any] | None = None
    """``{requests, prompt_tokens, completion_tokens, first_token_ms, total_ms}``; ``None``
    when the model was not called."""
    caught_up: int = 0
    """Earlier caller answers this turn took first: the call came from a process killed before
    it saved them (their words are in the transcript, their understanding here)."""

    @classmethod
    def build(cls, trace: TurnTrace | None, **fields: Any) -> TurnRecord:
        """A turn's record from the session's facts and the conversation's trace."""
        if trace is not None:
            fields.update(
                state_before=trace.state_before,
                state_after=trace.state_after,
                plan=trace.plan or None,
                understood=[dataclasses.asdict(f) for f in trace.understood],
                moves=[dataclasses.asdict(m) for m in trace.moves],
                refused=list(trace.refused),
                gave_up=trace.gave_up,
                model=dataclasses.asdict(trace.model) if trace.model else None,
                caught_up=trace.caught_up,
            )
        return cls(**fields)

    @property
    def sensitive(self) -> bool:
        """Whether the caller gave a sensitive value in this turn (its words are masked)."""
        return any(f.get("value") == MASK for f in self.understood)
