"""The console's charts: calls of a time window counted per hour or day, from their figures.

Per bucket (an hour or a day of the server's time zone): calls by outcome and by flow, the
median and 95th percentile of how long callers waited for the agent's first words, and the
share of answered turns that needed the model; over the whole window, transfers by reason.
The figures come from :meth:`engine.records.Database.figures` (a few numbers per call, kept
when its record was written), so thousands of calls a day cost no turn or transcript read.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from engine.records.database import CallFigures

Step: TypeAlias = Literal["hour", "day"]


@dataclass(frozen=True)
class Charts:
    """What the charts draw: a series per bucket (labels), and transfers by reason."""

    step: Step
    starts: list[datetime]
    """Each bucket's start, in the server's time zone."""
    labels: list[str]
    by_outcome: dict[str, list[int]]
    by_flow: dict[str, list[int]]
    latency_p50: list[float | None]
    """Milliseconds to the agent's first words: the median of the bucket's answers."""
    latency_p95: list[float | None]
    model_share: list[float | None]
    """Percent of the bucket's answered turns that asked the model."""
    transfers: list[tuple[str, int]] = field(default_factory=list)
    """Why transferred calls were transferred, most first."""
    calls: int = 0
    answers: int = 0

    def to_json(self) -> dict[str, Any]:
        """The data the page's script draws from (and the tables beside each chart show)."""
        return {
            "step": self.step,
            "labels": self.labels,
            "by_outcome": self.by_outcome,
            "by_flow": self.by_flow,
            "latency_p50": self.latency_p50,
            "latency_p95": self.latency_p95,
            "model_share": self.model_share,
            "transfers": [[reason, count] for reason, count in self.transfers],
        }


def buckets(since: datetime, until: datetime, step: Step) -> list[datetime]:
    """The starts of the hours or days from ``since`` to ``until`` (local time, aligned)."""
    local = since.astimezone()
    if step == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    else:
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = []
    moment = start
    while moment < until.astimezone():
        starts.append(moment)
        # Whole calendar steps in local time: a day is a day across a clock change.
        if step == "hour":
            moment = (moment + timedelta(hours=1)).astimezone()
        else:
            moment = (moment.replace(tzinfo=None) + timedelta(days=1)).astimezone()
    return starts


def charts(
    rows: Iterable[CallFigures],
    outcomes: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    step: Step,
) -> Charts:
    """Count ``rows`` (calls started in ``[since, until)``) per bucket of ``step``."""
    starts = buckets(since, until, step)
    size = len(starts)
    by_outcome = {outcome: [0] * size for outcome in outcomes}
    by_flow: dict[str, list[int]] = {}
    waits: list[list[float]] = [[] for _ in range(size)]
    answered = [0] * size
    modelled = [0] * size
    transfers: Counter[str] = Counter()
    calls = 0
    for row in rows:
        index = _bucket(starts, row.started_at)
        if index is None:
            continue
        calls += 1
        by_outcome.setdefault(row.outcome, [0] * size)[index] += 1
        by_flow.setdefault(row.flow or "(no flow)", [0] * size)[index] += 1
        stats = row.stats
        waits[index].extend(float(w) for w in stats.get("first_speech_ms") or ())
        answered[index] += int(stats.get("answered") or 0)
        modelled[index] += int(stats.get("model") or 0)
        if stats.get("transfer_reason"):
            transfers[str(stats["transfer_reason"])] += 1
    return Charts(
        step=step,
        starts=starts,
        labels=[_label(start, step) for start in starts],
        by_outcome=by_outcome,
        by_flow=dict(sorted(by_flow.items())),
        latency_p50=[percentile(w, 50) for w in waits],
        latency_p95=[percentile(w, 95) for w in waits],
        model_share=[
            round(100 * m / a, 1) if a else None for m, a in zip(modelled, answered, strict=True)
        ],
        transfers=transfers.most_common(),
        calls=calls,
        answers=sum(answered),
    )


def percentile(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of ``values`` (``None`` for none): a value that occurred."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


def _bucket(starts: Sequence[datetime], moment: datetime) -> int | None:
    """The index of the bucket ``moment`` falls in (``None``: before the first)."""
    low, high = 0, len(starts)
    while low < high:  # the last start at or before the moment
        middle = (low + high) // 2
        if starts[middle] <= moment:
            low = middle + 1
        else:
            high = middle
    return low - 1 if low > 0 else None


def _label(start: datetime, step: Step) -> str:
    return start.strftime("%a %H:00" if step == "hour" else "%a %d %b")
