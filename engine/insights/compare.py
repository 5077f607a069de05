"""A flow's versions side by side on live traffic: how their calls ended, how long they took.

For each version that served calls (in a rollout, each arm's version): the calls, each
outcome's share with its 95 % interval, the median turns and duration, and the model's use
(calls that asked it, requests and tokens per call). Each version's outcome shares are then
set against a baseline's (the rollout's stable version, else the version with the most calls)
as a difference with its interval, so a real difference reads apart from noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.records import OUTCOMES, CallRecord

from .stats import Difference, Proportion, median

PLAYED = ("complete", "fallback")


@dataclass(frozen=True)
class VersionStats:
    """The calls one version of a flow served, summed up."""

    version: str
    calls: int
    outcomes: dict[str, Proportion]
    median_turns: float | None
    median_seconds: float | None
    model_calls: Proportion
    """Calls in which the model was asked at least once."""
    model_requests: float
    """Model requests per call, on average."""
    tokens: float
    """Model tokens (prompt and completion) per call, on average."""
    arms: dict[str, int] = field(default_factory=dict)
    """Calls by rollout arm (``stable``, ``candidate``; none outside a rollout)."""
    share: float | None = None
    """The rollout's share for the candidate, as its calls say."""
    first: datetime | None = None
    last: datetime | None = None

    @property
    def arm(self) -> str | None:
        """The rollout arm most of its calls were in, if any."""
        return max(self.arms, key=lambda arm: self.arms[arm]) if self.arms else None

    def as_json(self) -> dict[str, Any]:
        """The version's numbers for tools."""
        return {
            "version": self.version,
            "arm": self.arm,
            "share": self.share,
            "calls": self.calls,
            "outcomes": {name: p.as_json() for name, p in self.outcomes.items()},
            "median_turns": self.median_turns,
            "median_seconds": self.median_seconds,
            "model": {
                "calls": self.model_calls.as_json(),
                "requests_per_call": round(self.model_requests, 3),
                "tokens_per_call": round(self.tokens, 1),
            },
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
        }


@dataclass(frozen=True)
class Comparison:
    """Every version of a flow that served calls, and each against the baseline."""

    flow: str
    versions: list[VersionStats]
    baseline: str | None

    def differences(self, stats: VersionStats) -> dict[str, Difference]:
        """``stats``' outcome shares minus the baseline's, outcome by outcome."""
        base = self.version(self.baseline) if self.baseline else None
        if base is None or base.version == stats.version:
            return {}
        return {name: Difference(stats.outcomes[name], base.outcomes[name]) for name in OUTCOMES}

    def version(self, version: str) -> VersionStats | None:
        """The numbers of ``version``, if it served calls."""
        return next((v for v in self.versions if v.version == version), None)

    def as_json(self) -> dict[str, Any]:
        """The comparison for tools (``dialplan calls compare --json``)."""
        return {
            "flow": self.flow,
            "baseline": self.baseline,
            "versions": [
                stats.as_json()
                | {
                    "against_baseline": {
                        name: d.as_json() for name, d in self.differences(stats).items()
                    }
                }
                for stats in self.versions
            ],
        }


def compare(flow: str, records: Iterable[CallRecord], baseline: str | None = None) -> Comparison:
    """The versions of ``flow`` in ``records``, oldest first, against ``baseline``.

    Without a ``baseline``: the rollout's stable version (the one with the most stable-arm
    calls), else the version with the most calls.
    """
    by_version: dict[str, list[CallRecord]] = {}
    for record in records:
        if record.flow == flow:
            by_version.setdefault(record.flow_version or "?", []).append(record)
    versions = sorted(
        (summarize(version, calls) for version, calls in by_version.items()),
        key=lambda stats: (stats.first or datetime.max, stats.version),
    )
    if baseline is None and versions:
        stable = [v for v in versions if v.arms.get("stable")]
        pool = stable or versions
        baseline = max(pool, key=lambda v: (v.arms.get("stable", 0), v.calls)).version
    return Comparison(flow, versions, baseline)


def summarize(version: str, calls: Sequence[CallRecord]) -> VersionStats:
    """The numbers of one version's calls."""
    total = len(calls)
    counted = Counter(record.outcome for record in calls)
    turns = [_turns(record) for record in calls]
    seconds = [record.duration_s for record in calls if record.duration_s is not None]
    requests = [_model(record, "requests") for record in calls]
    tokens = [
        _model(record, "prompt_tokens") + _model(record, "completion_tokens") for record in calls
    ]
    arms = Counter(str(record.rollout.get("arm")) for record in calls if record.rollout)
    shares = [record.rollout.get("share") for record in calls if record.rollout]
    started = [record.started_at for record in calls]
    return VersionStats(
        version=version,
        calls=total,
        outcomes={name: Proportion(counted[name], total) for name in OUTCOMES},
        median_turns=median(turns),
        median_seconds=median(seconds),
        model_calls=Proportion(sum(1 for r in requests if r), total),
        model_requests=sum(requests) / total if total else 0.0,
        tokens=sum(tokens) / total if total else 0.0,
        arms=dict(arms),
        share=float(shares[-1]) if shares and shares[-1] is not None else None,
        first=min(started) if started else None,
        last=max(started) if started else None,
    )


def _turns(record: CallRecord) -> int:
    """Turns the caller was answered in (the greeting and superseded requests left out)."""
    return sum(1 for t in record.turns if t.kind != "greeting" and t.outcome in PLAYED)


def _model(record: CallRecord, key: str) -> int:
    return sum(int((turn.model or {}).get(key) or 0) for turn in record.turns)
