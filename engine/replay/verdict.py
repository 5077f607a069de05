"""How a replayed call compares with the call it replays: same, changed, or diverged.

* **diverged at turn N**: the new version asked something else when the caller's recorded
  words came (it was in another state), so those words answer a question the caller never
  heard. The rest of the call is not comparable and is not compared: the verdict shows the
  question the new version asked and the recorded answer.
* **changed**: every recorded answer met its question, but the call took another path, kept
  other slots or ended otherwise.
* **same**: the same path, slots and outcome.

A changed call is **worse** when it ends less well than it did (:data:`RANK`): the check a CI
gate fails on.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from engine.agent import MASK, CallSummary
from engine.records import mask_text, secrets_of

from .play import Exchange, Run
from .script import CallScript

Kind = Literal["same", "changed", "diverged"]

RANK = {"completed": 3, "transferred": 2, "cancelled": 2, "abandoned": 1, "gave_up": 1, "error": 0}
"""How well a call ended: finished by the flow, then handed to a person or given up on by the
caller, then left or failed. A call whose outcome falls in rank ends worse."""


@dataclass(frozen=True)
class Divergence:
    """Where a replay stopped being comparable: the turn, both questions, the recorded answer."""

    turn: int
    """The caller's turn (1-based) whose words no longer answer what was asked."""
    answer: str
    asked_before: str | None
    question_before: str
    asked_after: str | None
    question_after: str

    def as_json(self) -> dict[str, Any]:
        """The divergence for tools."""
        return {
            "turn": self.turn,
            "answer": self.answer,
            "before": {"state": self.asked_before, "question": self.question_before},
            "after": {"state": self.asked_after, "question": self.question_after},
        }


@dataclass(frozen=True)
class Verdict:
    """One replayed call against what it did before (values as shown: sensitive ones masked)."""

    call_id: str
    kind: Kind
    outcome_before: str
    outcome_after: str | None
    """``None`` for a diverged call: its end is not comparable."""
    slots: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    """The slots that differ: ``name: (before, after)`` (``None``: not filled)."""
    path_before: tuple[str, ...] = ()
    path_after: tuple[str, ...] = ()
    divergence: Divergence | None = None
    diff: tuple[str, ...] = ()
    """The two runs' transcripts as a unified diff (up to the divergence, if any)."""
    notes: tuple[str, ...] = ()

    @property
    def worse(self) -> bool:
        """Whether the call ends less well than it did (never for a diverged call)."""
        if self.outcome_after is None:
            return False
        return RANK.get(self.outcome_after, 0) < RANK.get(self.outcome_before, 0)

    @property
    def better(self) -> bool:
        """Whether the call ends better than it did."""
        if self.outcome_after is None:
            return False
        return RANK.get(self.outcome_after, 0) > RANK.get(self.outcome_before, 0)

    def as_json(self) -> dict[str, Any]:
        """The verdict for tools (``dialplan replay --json``)."""
        return {
            "call_id": self.call_id,
            "verdict": self.kind,
            "outcome": {"before": self.outcome_before, "after": self.outcome_after},
            "worse": self.worse,
            "slots": {name: {"before": b, "after": a} for name, (b, a) in self.slots.items()},
            "path": {"before": list(self.path_before), "after": list(self.path_after)},
            "diverged": self.divergence.as_json() if self.divergence else None,
            "diff": list(self.diff),
            "notes": list(self.notes),
        }


def judge(script: CallScript, before: Run, after: Run, *, reveal: bool = False) -> Verdict:
    """The verdict on ``after`` (the replay) against ``before`` (what ``script``'s call did)."""
    shown = _Shown(script, reveal)
    notes = [*script.notes, *before.notes, *after.notes]
    if script.model_used and after.model_requests == 0:
        notes.append("the model was asked on the call; the replay ran without one")
    for name in dict.fromkeys(after.unrecorded):
        notes.append(f"action {name} ran with arguments the call never gave it: it answered {{}}")
    divergence = _divergence(before.exchanges, after.exchanges, shown)
    if divergence is not None:
        turns = divergence.turn
        return Verdict(
            script.call_id,
            "diverged",
            before.outcome,
            None,
            path_before=before.path,
            path_after=after.path,
            divergence=divergence,
            diff=_diff(before, after, shown, upto=turns),
            notes=tuple(notes),
        )
    slots = {
        name: (shown.value(name, before.slots.get(name)), shown.value(name, after.slots.get(name)))
        for name in dict.fromkeys([*before.slots, *after.slots])
        if _json(before.slots.get(name)) != _json(after.slots.get(name))
    }
    same = not slots and before.path == after.path and before.outcome == after.outcome
    if after.unheard:
        notes.append(
            f"the call ended {after.unheard} turn(s) before the caller's last recorded words"
        )
    return Verdict(
        script.call_id,
        "same" if same else "changed",
        before.outcome,
        after.outcome,
        slots=slots,
        path_before=before.path,
        path_after=after.path,
        diff=() if same else _diff(before, after, shown),
        notes=tuple(notes),
    )


def _divergence(
    before: Sequence[Exchange], after: Sequence[Exchange], shown: _Shown
) -> Divergence | None:
    for number, (old, new) in enumerate(zip(before, after, strict=False), start=1):
        if old.asked_in != new.asked_in:
            return Divergence(
                turn=number,
                answer=shown.words(new),
                asked_before=old.asked_in,
                question_before=shown.text(old.question),
                asked_after=new.asked_in,
                question_after=shown.text(new.question),
            )
    return None


def _diff(before: Run, after: Run, shown: _Shown, upto: int | None = None) -> tuple[str, ...]:
    """The two runs' transcripts, line by line, as a unified diff (``upto``: that many turns)."""
    old = _lines(before, shown, upto)
    new = _lines(after, shown, upto)
    if upto is not None:
        # The diverging turn: the words that answer one question, and no longer the other.
        words = shown.words(after.exchanges[upto - 1])
        old.append(f"caller: {words}")
        new.append(f"caller: {words}")
    lines = difflib.unified_diff(old, new, "recorded", "replayed", n=2, lineterm="")
    return tuple(lines)


def _lines(run: Run, shown: _Shown, upto: int | None) -> list[str]:
    lines = [f"agent  (greeting): {shown.text(run.greeting)}"] if run.greeting else []
    exchanges = run.exchanges if upto is None else run.exchanges[: upto - 1]
    for exchange in exchanges:
        lines.append(f"caller: {shown.words(exchange)}")
        if exchange.said:
            lines.append(f"agent  ({exchange.state_after}): {shown.text(exchange.said)}")
    if upto is None:
        lines.append(f"(call ends: {run.outcome})")
    return lines


class _Shown:
    """What a person may see of a call: sensitive values and the words that gave them masked."""

    def __init__(self, script: CallScript, reveal: bool) -> None:
        self.reveal = reveal
        self.sensitive = script.sensitive
        summary = CallSummary(slots=dict(script.slots), sensitive=script.sensitive)
        self.secrets: list[str] = [] if reveal else secrets_of(summary)

    def value(self, name: str, value: Any) -> Any:
        if self.reveal or value is None or name not in self.sensitive:
            return value
        return MASK

    def text(self, text: str) -> str:
        return mask_text(text, self.secrets) if self.secrets else text

    def words(self, exchange: Exchange) -> str:
        step = exchange.step
        if step.kind == "silence":
            return "(silence)"
        if step.sensitive and not self.reveal:
            return MASK
        return self.text(step.words)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS)
