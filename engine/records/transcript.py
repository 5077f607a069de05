"""A call's transcript as its record keeps it: whole, and with when each line was said.

The platform sends the transcript with every request, so the last one a call received stops
before the agent's last answer (the goodbye, or the line before a transfer): the record adds
that answer from the turn that said it, as the console's live page does.

Each line gets its time, in seconds from the start of the call: from the platform's word
timings where it sent them (``timing: platform``), else from the server's own clock
(``timing: server``): an agent's line when its first words went out, a caller's line when the
platform asked for the answer to it (the caller had finished by then, so it is the line's
``end``). An agent's line also carries how long the caller waited for its first words
(``latency_ms``, the turn's first speech) and the request it answered (``response_id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.protocol.inbound import Span

from .turn import TurnRecord

ANSWERED = ("complete", "fallback")
"""Turn outcomes whose words went out whole."""


def with_last_answer(
    lines: Sequence[Mapping[str, Any]], turns: Sequence[TurnRecord], *, stored: bool = False
) -> list[dict[str, Any]]:
    """``lines`` with the agent's last answer added, if the platform has not sent it back yet.

    ``stored``: add the answer as rendered for storage (sensitive values hidden) where the
    turn has that form; else as it was said.
    """
    whole = [dict(line) for line in lines]
    last = turns[-1] if turns else None
    if (
        last is not None
        and last.said
        and last.outcome in ANSWERED
        and last.transcript_len >= len(whole)
    ):
        said = last.said_masked if stored and last.said_masked is not None else last.said
        whole.append({"role": "agent", "content": said})
    return whole


def timed(
    lines: Sequence[Mapping[str, Any]],
    spans: Sequence[Span],
    turns: Sequence[TurnRecord],
    started_at: datetime,
) -> list[dict[str, Any]]:
    """``lines`` with ``start``/``end`` (seconds from ``started_at``) and how they were timed.

    ``spans`` are the platform's word timings of the lines it sent (possibly fewer than
    ``lines``: the last answer is added by :func:`with_last_answer`).
    """
    answers = _answers(turns)
    asked = sorted((t.transcript_len, _offset(t.started_at, started_at)) for t in turns)
    result = []
    for index, line in enumerate(lines):
        entry = dict(line)
        start, end = spans[index] if index < len(spans) else (None, None)
        answer = answers.get(index) if line.get("role") == "agent" else None
        if answer is not None:
            entry["response_id"] = answer.response_id
            if answer.first_speech_ms is not None:
                entry["latency_ms"] = round(answer.first_speech_ms)
        if start is not None or end is not None:
            entry.update(start=_round(start), end=_round(end), timing="platform")
        elif answer is not None:
            spoke = _offset(answer.started_at, started_at) + (answer.first_speech_ms or 0) / 1000
            entry.update(start=_round(spoke), end=None, timing="server")
        elif line.get("role") != "agent":
            # The first request whose transcript holds this line came when it was finished.
            heard = next((at for length, at in asked if length > index), None)
            if heard is not None:
                entry.update(start=None, end=_round(heard), timing="server")
        result.append(entry)
    return result


def _answers(turns: Sequence[TurnRecord]) -> dict[int, TurnRecord]:
    """The turn whose answer is each agent line, by the line's index.

    An answer follows the transcript its request carried, so it is the line at that
    request's transcript length (the greeting is line 0).
    """
    found: dict[int, TurnRecord] = {}
    for turn in turns:
        if turn.said and turn.outcome in ANSWERED:
            found[turn.transcript_len] = turn
    return found


def _offset(moment: datetime, start: datetime) -> float:
    return max(0.0, (moment - start).total_seconds())


def _round(seconds: float | None) -> float | None:
    return round(seconds, 2) if seconds is not None else None
