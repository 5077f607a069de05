"""Whole calls played by scripted callers: each must end where its caller meant it to.

The understanding corpus judges one utterance at a time; a caller judges a whole call. A
callers file (the project's own are ``tests/callers/<flow>.yaml``) lists scripted callers of
one flow: the lines each says, turn by turn ("" for a silence), and how the call must end::

    flow: booking
    today: 2026-11-25
    callers:
      - name: a hesitant caller who corrects the day at the read-back
        says: ["uh hi, a table for four", "friday", ...]
        ends: {outcome: completed, slots: {party_size: 4, date: 2026-11-27}}

Each caller is played through the flow in-process, with no model and the flow's actions run
for real, until the agent hangs up or transfers or the lines run out; the call ends right when
its outcome (``completed``, ``transferred``, ``cancelled``, ``gave_up``) and every slot named
are as expected. ``bench/callers.py`` prints the report; a test holds its floor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from engine.flow import FlowRunner, safe_yaml
from engine.project import Project

Outcome = str


@dataclass(frozen=True)
class Caller:
    """One scripted caller of one flow."""

    file: str
    line: int
    flow: str
    name: str
    says: tuple[str, ...]
    outcome: Outcome
    slots: Mapping[str, Any] = field(default_factory=dict)
    today: date = date(2026, 11, 25)


@dataclass(frozen=True)
class Played:
    """How a caller's call went."""

    caller: Caller
    outcome: Outcome
    slots: Mapping[str, Any]
    transcript: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        """Whether the call ended as the caller meant it to."""
        expected = self.caller
        wrong = [name for name, value in expected.slots.items() if self.slots.get(name) != value]
        return self.outcome == expected.outcome and not wrong


@dataclass
class CallersReport:
    """Calls that ended right, per flow and overall, and every call that did not."""

    played: list[Played] = field(default_factory=list)

    def by_flow(self) -> dict[str, tuple[int, int]]:
        """Flow -> (calls that ended right, calls)."""
        right: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for call in self.played:
            total[call.caller.flow] += 1
            right[call.caller.flow] += call.ok
        return {flow: (right[flow], total[flow]) for flow in sorted(total)}

    @property
    def accuracy(self) -> float:
        """The share of calls that ended right (1.0 for none)."""
        return sum(c.ok for c in self.played) / len(self.played) if self.played else 1.0

    def lines(self) -> list[str]:
        """The report as text: a row per flow, overall, then every call that went wrong."""
        rows = [f"{'flow':<18} {'right':>6} {'calls':>6} {'share':>7}"]
        for flow, (right, total) in self.by_flow().items():
            rows.append(f"{flow:<18} {right:>6} {total:>6} {right / total:>7.1%}")
        right = sum(c.ok for c in self.played)
        rows.append(f"{'overall':<18} {right:>6} {len(self.played):>6} {self.accuracy:>7.1%}")
        for call in (c for c in self.played if not c.ok):
            caller = call.caller
            rows += ["", f"{caller.file}:{caller.line}: {caller.name}"]
            rows.append(f"  expected {caller.outcome} {dict(caller.slots)}")
            rows.append(f"  got      {call.outcome} {_shown(call.slots, caller.slots)}")
            rows += [f"    {who}: {said}" for who, said in call.transcript]
        return rows


def _shown(slots: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {name: slots.get(name) for name in wanted} if wanted else dict(slots)


def load_callers(folder: Path) -> list[Caller]:
    """Every caller of every ``*.yaml`` file in ``folder``, files in name order."""
    callers: list[Caller] = []
    for path in sorted(folder.glob("*.yaml")):
        data = safe_yaml.load(path.read_text(encoding="utf-8"))
        today = data.get("today", date(2026, 11, 25))
        entries = data["callers"]
        for index, entry in enumerate(entries):
            ends = entry.get("ends") or {}
            callers.append(
                Caller(
                    file=path.name,
                    line=entries.lines[index],
                    flow=str(data["flow"]),
                    name=str(entry.get("name", f"caller {index + 1}")),
                    says=tuple(str(line or "") for line in entry["says"]),
                    outcome=str(ends.get("outcome", "completed")),
                    slots={str(k): _plain(v) for k, v in (ends.get("slots") or {}).items()},
                    today=entry.get("today", today),
                )
            )
    return callers


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


async def play(caller: Caller, project: Project) -> Played:
    """Play one caller's call through its flow (no model; the flow's actions run)."""
    runner = FlowRunner(project.open_flow(caller.flow), None, today=lambda: caller.today)
    transcript: list[tuple[str, str]] = []
    outcome: Outcome = "abandoned"  # the lines ran out before the agent ended the call
    try:
        greeting = runner.start()
        transcript.append(("agent", greeting.text))
        for line in caller.says:
            reply = await (runner.say(line) if line else runner.silence())
            transcript += [("caller", line or "(silence)"), ("agent", reply.text)]
            if reply.error is not None:
                outcome = "error"
                break
            if reply.transfer:
                outcome = "transferred"
                break
            if reply.ended:
                outcome = "completed"
                break
        summary = runner.conversation.summary()
        if summary.gave_up:
            outcome = "gave_up"
        elif summary.cancelled:
            outcome = "cancelled"
        return Played(caller, outcome, dict(runner.slots), tuple(transcript))
    finally:
        runner.close()


async def play_all(
    callers: Iterable[Caller], project: Project, before_each: Callable[[], None] = lambda: None
) -> CallersReport:
    """Play every caller; ``before_each`` runs before each call (a fresh test calendar, say)."""
    report = CallersReport()
    for caller in callers:
        before_each()
        report.played.append(await play(caller, project))
    return report
