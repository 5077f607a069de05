"""A call's figures for charts: computed once, when its record is written, and kept beside it.

Charts of thousands of calls a day cannot read every call's turns; they read these few
numbers (``calls.stats``) instead: the turns answered, those that needed the model, how long
each caller waited for the agent's first words, and why a transferred call was transferred.
They are worked out from the record's turns as stored (JSON), so the migration that adds them
fills them in for older calls with the very same rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ANSWERED = ("complete", "fallback")

TRANSFERRED = ("transferred", "gave_up")
"""Outcomes of calls that may have been handed to a person."""


def figures(
    outcome: str, path: Sequence[str], turns: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``{answered, model, first_speech_ms, transfer_reason}`` of a call's stored turns.

    ``answered``: requests of the caller answered whole (the greeting is none);
    ``model``: of those, the ones where the model was asked; ``first_speech_ms``: the wait
    for the first words of every answer (the greeting's too); ``transfer_reason``: for a
    call that was transferred, why the flow went to the transferring state (the guard or
    intent of that move, ``gave up: ...``), else ``None``.
    """
    answered = [t for t in turns if t.get("outcome", "complete") in ANSWERED]
    replies = [t for t in answered if t.get("kind") != "greeting"]
    waits = [
        round(float(t["first_speech_ms"]), 1)
        for t in answered
        if isinstance(t.get("first_speech_ms"), int | float)
    ]
    return {
        "answered": len(replies),
        "model": sum(1 for t in replies if t.get("model")),
        "first_speech_ms": waits,
        "transfer_reason": transfer_reason(outcome, path, turns),
    }


def transfer_reason(
    outcome: str, path: Sequence[str], turns: Sequence[Mapping[str, Any]]
) -> str | None:
    """Why a transferred call went to the state that transferred it (``None``: no transfer)."""
    transferring = [t for t in turns if t.get("transfer_number")]
    if outcome not in TRANSFERRED and not transferring:
        return None
    for turn in reversed(transferring or turns):
        moves = turn.get("moves") or []
        if moves and isinstance(moves[-1], Mapping) and moves[-1].get("how"):
            return str(moves[-1]["how"])
    if outcome == "gave_up":
        return "gave up"
    return f"in {path[-1]}" if path else "transferred"
