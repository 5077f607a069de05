"""The corpus floor: what callers say is understood (tests/understanding/, bench/understanding.py).

Every slot type, several slots at once, and the example flows' intents: at least 97 % overall
and no kind under 95 %. A miss prints the whole report, with every miss listed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.project import Project
from engine.settings import Settings
from engine.testing.understanding import Report, load_corpus, run_corpus

ROOT = Path(__file__).resolve().parent.parent
OVERALL, PER_KIND = 0.97, 0.95


@pytest.fixture(scope="module")
def report() -> Report:
    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )
    return run_corpus(load_corpus(ROOT / "tests" / "understanding"), project)


def test_the_corpus_is_broad(report: Report) -> None:
    kinds = report.by_kind()
    assert len(report.outcomes) >= 400
    builtin = {"text", "name", "number", "yes_no", "enum", "date", "time", "phone", "email"}
    assert builtin | {"intent", "several slots"} <= set(kinds)


def test_callers_are_understood(report: Report) -> None:
    text = "\n".join(report.lines())
    assert report.accuracy >= OVERALL, text
    for kind, (right, cases) in report.by_kind().items():
        assert right / cases >= PER_KIND, f"{kind} under {PER_KIND:.0%}\n{text}"
