"""A replay of many recorded calls against one flow version, and its summary.

Each record becomes a script (:mod:`engine.replay.script`), is played against the target
version (:mod:`engine.replay.play`) and judged against what it did before
(:mod:`engine.replay.verdict`). "Before" is what the call did (``baseline="recorded"``), or a
replay of the version it ran (``baseline="replay"``, from the versions the call log keeps):
that isolates the flow edit from everything else that differs since the call (the engine's
own changes, actions stubbed, no model).

The summary counts the verdicts and the outcomes before and after. A diverged call's end is
not comparable: it counts as ``diverged``, never as an outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.flow import CompiledFlow
from engine.records import OUTCOMES, CallRecord

from .play import Player, Run, recorded_run
from .script import CallScript, Unplayable, script_of
from .verdict import Verdict, judge

Baseline = Literal["recorded", "replay"]


@dataclass(frozen=True)
class Skipped:
    """A record that was not replayed, and why."""

    call_id: str
    reason: str


@dataclass
class Summary:
    """What a replay found, call by call and in all."""

    flow: str
    version: str
    baseline: Baseline
    verdicts: list[Verdict] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """How many calls got verdict ``kind``."""
        return sum(1 for verdict in self.verdicts if verdict.kind == kind)

    @property
    def worse(self) -> list[Verdict]:
        """The calls that end worse than they did."""
        return [verdict for verdict in self.verdicts if verdict.worse]

    @property
    def better(self) -> list[Verdict]:
        """The calls that end better than they did."""
        return [verdict for verdict in self.verdicts if verdict.better]

    def outcomes(self) -> tuple[Counter[str], Counter[str]]:
        """Outcome counts before and after (a diverged call counts as ``diverged`` after)."""
        before: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
        after: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
        for verdict in self.verdicts:
            before[verdict.outcome_before] += 1
            after[verdict.outcome_after or "diverged"] += 1
        return before, after

    def as_json(self) -> dict[str, Any]:
        """The whole replay for tools (``dialplan replay --json``)."""
        before, after = self.outcomes()
        return {
            "flow": self.flow,
            "version": self.version,
            "baseline": self.baseline,
            "calls": len(self.verdicts),
            "same": self.count("same"),
            "changed": self.count("changed"),
            "diverged": self.count("diverged"),
            "worse": [verdict.call_id for verdict in self.worse],
            "better": [verdict.call_id for verdict in self.better],
            "outcomes": {"before": dict(before), "after": dict(after)},
            "skipped": [{"call_id": s.call_id, "reason": s.reason} for s in self.skipped],
            "results": [verdict.as_json() for verdict in self.verdicts],
        }


@dataclass
class Replay:
    """Plays records against ``target`` (see the module docstring)."""

    target: CompiledFlow
    player: Player = field(default_factory=Player)
    baseline: Baseline = "recorded"
    open_version: Callable[[str], CompiledFlow | None] = lambda _version: None
    """A version the call log keeps, compiled (for ``baseline="replay"``)."""
    reveal: bool = False
    _versions: dict[str, CompiledFlow | None] = field(
        default_factory=dict, init=False, repr=False
    )  # the baselines' versions, compiled once each

    async def run(
        self,
        records: Iterable[CallRecord],
        progress: Callable[[], None] = lambda: None,
    ) -> Summary:
        """Replay every record of the target's flow; ``progress`` is called after each."""
        summary = Summary(self.target.name, self.target.version, self.baseline)
        for record in records:
            try:
                verdict = await self.one(record)
            except Unplayable as exc:
                summary.skipped.append(Skipped(record.call_id, str(exc)))
            else:
                summary.verdicts.append(verdict)
            progress()
        return summary

    async def one(self, record: CallRecord) -> Verdict:
        """The verdict on one record (raises :class:`Unplayable`)."""
        if record.flow != self.target.name:
            raise Unplayable(f"a call of flow {record.flow!r}, not {self.target.name!r}")
        script = script_of(record)
        before = await self._before(script)
        after = await self.player.play(self.target, script)
        return judge(script, before, after, reveal=self.reveal)

    async def _before(self, script: CallScript) -> Run:
        if self.baseline == "recorded":
            return recorded_run(script)
        if script.version is None:
            raise Unplayable("the record names no flow version to replay")
        if script.version not in self._versions:
            self._versions[script.version] = self.open_version(script.version)
        flow = self._versions[script.version]
        if flow is None:
            raise Unplayable(f"the call log keeps no version {script.version} to replay")
        return await self.player.play(flow, script)


def recorded_versions(records: Sequence[CallRecord]) -> Counter[str]:
    """How many of ``records`` ran each flow version."""
    return Counter(record.flow_version or "?" for record in records)
