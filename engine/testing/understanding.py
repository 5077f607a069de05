"""A labelled corpus of what callers say, scored against what dialplan understands.

A corpus is a folder of YAML files (the project's own is ``tests/understanding/``; its README
describes the format), and of batches in subfolders: a batch written blind (before the code it
judges) is kept and reported apart. Value cases run :func:`engine.flow.understanding.understand`
with the file's slots; intent cases run the intent rules of a flow of the project, and repair
cases its built-in repair (repeat, hold, cancel, a person). ``bench/understanding.py`` prints
the report, and a test holds its floor, for the whole corpus and for each batch on its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from engine.agent import CallInfo
from engine.flow import CompiledFlow, safe_yaml
from engine.flow.decide import AskToStop, Repair, TakeGlobal, asking_state, plan, recognise
from engine.flow.repair_words import REPAIRS, heard
from engine.flow.slots import SlotTypes
from engine.flow.spec import OpeningHours, SlotSpec
from engine.flow.understanding import Listener, Understanding, answers, understand
from engine.flow.view import template_view
from engine.project import Project

INTENT = "intent"
REPAIR = "repair"
READ_BACK = "readback"  # a repair case's `asked` when the agent just read values back


@dataclass(frozen=True)
class Case:
    """One labelled utterance."""

    file: str
    line: int
    kind: str  # the slot type (or "intent", "several slots") it is reported under
    said: str
    expect: Any  # the values (a dict) or, for an intent case, the intent name or None
    asked: tuple[str, ...] = ()
    known: Mapping[str, Any] = field(default_factory=dict)
    today: date = date(2026, 11, 25)
    error: str = ""
    confirm: Mapping[str, Any] | None = None  # the values to read back (None: not checked)
    listener: Listener | None = None
    flow: str = ""
    state: str = ""
    batch: str = ""
    """The subfolder the case's file is in ("" for the corpus folder itself)."""


@dataclass(frozen=True)
class Outcome:
    """A case and what was understood."""

    case: Case
    got: Any
    ok: bool


@dataclass
class Report:
    """Accuracy per kind of value, overall, and every miss."""

    outcomes: list[Outcome] = field(default_factory=list)

    def batch(self, name: str) -> Report:
        """The cases of one batch only."""
        return Report([o for o in self.outcomes if o.case.batch == name])

    def batches(self) -> list[str]:
        """The batches of the corpus, in name order ("" is the corpus folder itself)."""
        return sorted({o.case.batch for o in self.outcomes})

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """Kind -> (cases understood, cases), kinds sorted by name."""
        passed: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for outcome in self.outcomes:
            total[outcome.case.kind] += 1
            passed[outcome.case.kind] += outcome.ok
        return {kind: (passed[kind], total[kind]) for kind in sorted(total)}

    @property
    def accuracy(self) -> float:
        """The share of all cases understood (1.0 for an empty corpus)."""
        if not self.outcomes:
            return 1.0
        return sum(o.ok for o in self.outcomes) / len(self.outcomes)

    @property
    def misses(self) -> list[Outcome]:
        """Every case not understood, in corpus order."""
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def lines(self) -> list[str]:
        """The report as text: a table per kind, the overall figure, then every miss."""
        rows = [f"{'kind':<14} {'right':>6} {'cases':>6} {'accuracy':>9}"]
        for kind, (passed, total) in self.by_kind().items():
            rows.append(f"{kind:<14} {passed:>6} {total:>6} {passed / total:>9.1%}")
        right = sum(o.ok for o in self.outcomes)
        rows.append(f"{'overall':<14} {right:>6} {len(self.outcomes):>6} {self.accuracy:>9.1%}")
        if self.misses:
            rows += ["", f"misses ({len(self.misses)}):"]
        for miss in self.misses:
            case = miss.case
            asked = f" (asked {', '.join(case.asked)})" if case.asked else ""
            where = f" [{case.flow}.{case.state}]" if case.flow else asked
            file = f"{case.batch}/{case.file}" if case.batch else case.file
            rows.append(f"  {file}:{case.line}{where}: {case.said!r}")
            expected = _show(case.expect)
            if case.confirm:
                expected += f" and to confirm {_show(case.confirm)}"
            rows.append(f"      expected {expected}, got {_show(miss.got)}")
        return rows


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v!r}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def _plain(value: Any) -> Any:
    """YAML's dates as the ISO text slots store."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


FLOOR_FILE = "floor.yaml"


def load_corpus(folder: Path) -> list[Case]:
    """Every case of every ``*.yaml`` file in ``folder`` and its batch subfolders, by name.

    A batch's ``floor.yaml`` (the floor it is held at, see tests/test_understanding.py) holds
    no cases.
    """
    types = SlotTypes.builtin()
    cases: list[Case] = []
    for path in sorted(folder.rglob("*.yaml"), key=lambda p: p.relative_to(folder).parts):
        if path.name == FLOOR_FILE:
            continue
        batch = path.parent.relative_to(folder).as_posix() if path.parent != folder else ""
        data = safe_yaml.load(path.read_text(encoding="utf-8"))
        kind = str(data.get("type", path.stem))
        today = data.get("today", date(2026, 11, 25))
        listener = None
        if data.get("slots"):
            hours = OpeningHours.model_validate(data["hours"]) if data.get("hours") else None
            specs = _slot_specs(data["slots"], hours is not None)
            listener = Listener(specs, {n: types[s.type] for n, s in specs.items()}, hours)
        entries = data["cases"]
        for index, entry in enumerate(entries):
            asked = entry.get("asked") or ()
            common: dict[str, Any] = {
                "file": path.name,
                "line": entries.lines[index],
                "kind": kind,
                "said": str(entry["said"]),
                "batch": batch,
            }
            if kind == REPAIR:
                cases.append(
                    Case(
                        **common,
                        expect=entry.get("repair"),
                        flow=_flow_of(path, data, str(entry["flow"])),
                        asked=(str(asked),) if asked else (),
                    )
                )
                continue
            if kind == INTENT:
                cases.append(
                    Case(
                        **common,
                        expect=entry.get("intent"),
                        flow=_flow_of(path, data, str(entry["flow"])),
                        state=entry["state"],
                    )
                )
                continue
            cases.append(
                Case(
                    **common,
                    expect=_plain(entry.get("expect") or {}),
                    asked=(asked,) if isinstance(asked, str) else tuple(asked),
                    known=_plain(entry.get("known") or {}),
                    today=entry.get("today", today),
                    error=str(entry.get("error") or ""),
                    confirm=_plain(entry["confirm"] or {}) if "confirm" in entry else None,
                    listener=listener,
                )
            )
    return cases


# The slot types the opening hours are about.
_TIMED = ("date", "time")


def _slot_specs(slots: Mapping[str, Any], hours: bool) -> dict[str, SlotSpec]:
    """A file's slots; with ``hours``, its date and time slots keep to them by default.

    A file names its business's ``hours:`` so that a day or a time outside them is not stored,
    as a flow does with ``hours: true`` on each slot; a slot that says ``hours: false`` is
    free of them. A date in the past (a date of birth) never is a visit, so no hours apply.
    """
    specs = {}
    for name, raw in slots.items():
        spec = SlotSpec.model_validate(raw)
        timed = spec.type in _TIMED and not spec.past
        if hours and timed and "hours" not in raw:
            spec = spec.model_copy(update={"hours": True})
        specs[str(name)] = spec
    return specs


def _flow_of(path: Path, data: Any, name: str) -> str:
    """A case's flow: by name in the project, or in the folder the file's ``flows:`` names.

    Cases written for a flow as it was once keep judging that version (a frozen copy), so an
    edit of the example flows never turns a right case into a miss, or a miss into a pass.
    """
    folder = data.get("flows")
    return str((path.parent / str(folder) / f"{name}.yaml").resolve()) if folder else name


def run_corpus(cases: Iterable[Case], project: Project | None = None) -> Report:
    """Understand every case; intent cases need the ``project`` whose flows they name."""
    report = Report()
    flows: dict[str, CompiledFlow] = {}
    for case in cases:
        if case.kind == REPAIR:
            if project is None:
                raise ValueError("repair cases need the project their flows are in")
            flow = flows.get(case.flow) or flows.setdefault(case.flow, project.open_flow(case.flow))
            heard = repair_heard(flow, case.asked[0] if case.asked else "", case.said)
            report.outcomes.append(Outcome(case, heard, heard == case.expect))
            continue
        if case.kind == INTENT:
            if project is None:
                raise ValueError("intent cases need the project their flows are in")
            flow = flows.get(case.flow) or flows.setdefault(case.flow, project.open_flow(case.flow))
            got: Any = recognise(flow, case.state, case.said)
            report.outcomes.append(Outcome(case, got, got == case.expect))
            continue
        assert case.listener is not None
        understood = understand(case.listener, case.asked, case.known, case.said, case.today)
        if _asks_for_repair(case.listener, understood, case.said):
            understood = Understanding(errors=understood.errors)
        got = dict(understood.values) | {name: None for name in understood.removed}
        ok = got == case.expect
        if case.confirm is not None:
            ok = ok and understood.unsure == case.confirm
        if understood.unsure and (case.confirm is not None or not ok):
            got = got | {"(confirm)": understood.unsure}
        if case.error:
            said = " ".join(understood.errors)
            ok = ok and case.error.lower() in said.lower()
            got = got | ({"(refused)": said} if said else {})
        report.outcomes.append(Outcome(case, got, ok))
    return report


def _asks_for_repair(listener: Listener, understood: Understanding, said: str) -> bool:
    """Whether a call turn takes ``said`` as a repair and stores none of its values.

    As :func:`engine.flow.decide.plan` does: "sorry, could you say that again?" is a repeat
    even where free text would take any words; only a typed value or a take-back answers.
    """
    return heard(said) is not None and not answers(understood, listener.types)


def repair_heard(flow: CompiledFlow, asked: str, said: str) -> str | None:
    """The repair a turn of ``flow`` takes on ``said`` where the agent asked for ``asked``.

    ``asked`` is a slot (the state that asks for it) or ``readback`` (the first read-back).
    An author's own global intent of a repair's name (``human``, ``repeat``) counts as it.
    """
    if asked == READ_BACK:
        state = next(n for n, s in flow.spec.states.items() if s.read_back)
    else:
        state = asking_state(flow, asked) or flow.spec.start_state
    found, _ = plan(
        flow,
        state,
        {},
        said,
        reminder=False,
        today=date(2026, 11, 25),
        has_model=False,
        view=lambda slots: template_view(flow, state, slots, CallInfo("corpus")),
    )
    if isinstance(found, Repair):
        return found.name
    if isinstance(found, AskToStop):
        return "cancel"  # heard as a cancel; the call asks "Do you want me to stop here?" first
    if isinstance(found, TakeGlobal) and found.intent in REPAIRS:
        return found.intent
    return None
