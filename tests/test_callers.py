"""Whole calls by scripted callers (tests/callers/, bench/callers.py): at least 95 % end right.

The callers were written from the flow files alone, before they were played, and talk like
people: hesitations, several values at once, corrections, repeats, holds, cancels, a person.
A miss prints the whole report, with every call that went wrong and its transcript.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.examples import booking
from engine.project import Project
from engine.settings import Settings
from engine.testing.callers import CallersReport, load_callers, play_all

ROOT = Path(__file__).resolve().parent.parent
FLOOR = 0.95


@pytest.fixture(scope="module")
def report() -> CallersReport:
    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )

    def fresh_book() -> None:
        booking.BOOK = booking.Book()

    callers = load_callers(ROOT / "tests" / "callers")
    return asyncio.run(play_all(callers, project, fresh_book))


def test_every_example_flow_has_its_callers(report: CallersReport) -> None:
    flows = {path.stem for path in (ROOT / "flows").glob("*.yaml")}
    counts = report.by_flow()
    assert set(counts) == flows
    assert all(total >= 15 for _, total in counts.values()), counts


def test_calls_end_where_their_callers_meant_them_to(report: CallersReport) -> None:
    assert report.accuracy >= FLOOR, "\n".join(report.lines())
