"""The corpus floor: what callers say is understood (tests/understanding/, bench/understanding.py).

Every slot type, several slots at once, the example flows' intents and the built-in repairs:
at least 97 % overall and no kind under 95 %, for the whole corpus and for each batch written
blind on its own (a blind batch pooled with the cases the parsers were tuned on would hide its
misses). A miss prints the whole report, with every miss listed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.project import Project
from engine.settings import Settings
from engine.testing.understanding import Report, load_corpus, run_corpus

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "understanding"
OVERALL, PER_KIND = 0.97, 0.95
BLIND = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())


@pytest.fixture(scope="module")
def report() -> Report:
    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )
    return run_corpus(load_corpus(CORPUS), project)


def test_the_corpus_is_broad(report: Report) -> None:
    kinds = report.by_kind()
    assert len(report.outcomes) >= 400
    builtin = {"text", "name", "number", "yes_no", "enum", "date", "time", "phone", "email"}
    assert builtin | {"intent", "several slots"} <= set(kinds)
    assert {"blind-2", "blind-3"} <= set(report.batches())


def holds_the_floor(report: Report, what: str) -> None:
    text = "\n".join(report.lines())
    assert report.accuracy >= OVERALL, f"{what} under {OVERALL:.0%}\n{text}"
    for kind, (right, cases) in report.by_kind().items():
        assert right / cases >= PER_KIND, f"{what}: {kind} under {PER_KIND:.0%}\n{text}"


def test_callers_are_understood(report: Report) -> None:
    holds_the_floor(report, "the whole corpus")


@pytest.mark.parametrize("batch", BLIND)
def test_each_blind_batch_holds_the_floor_on_its_own(report: Report, batch: str) -> None:
    holds_the_floor(report.batch(batch), f"the blind batch {batch}")
