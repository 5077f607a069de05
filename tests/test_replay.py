"""`dialplan replay`: real recorded calls played again against an edited flow."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.records import CallRecord
from tests.recorded import CLINIC_CALLS, Caller, copy_example, server_settings


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_example(tmp_path / "project")
    monkeypatch.setenv("DIALPLAN_FLOWS_DIR", str(root / "flows"))
    monkeypatch.setenv("DIALPLAN_PROMPTS_DIR", str(root / "prompts"))
    monkeypatch.setenv("DIALPLAN_PROJECT_FILE", str(root / "dialplan.yaml"))
    return root


@pytest.fixture
def recorded(project, start_server, call_log, no_llm) -> dict[str, CallRecord]:  # type: ignore[no-untyped-def]
    server = start_server(**server_settings(project))
    return asyncio.run(Caller(server, call_log).calls("clinic_", CLINIC_CALLS))


def replay(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["replay", *args], catch_exceptions=False)
    return result.exit_code, result.output


def edit(project: Path, old: str, new: str) -> None:
    path = project / "flows" / "clinic_intake.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def break_the_date_fix(project: Path) -> None:
    edit(project, "- {to: ask_dob, intent: fix_dob", "- {to: ask_name, intent: fix_dob")
    edit(project, "clear: [date_of_birth]}", "clear: [full_name]}")


def test_the_recorded_calls_are_what_they_seem(recorded):
    outcomes = {name: record.outcome for name, record in recorded.items()}
    assert outcomes == {
        "plain": "completed",
        "early": "completed",
        "fix_dob": "completed",
        "person": "transferred",
        "mumble": "gave_up",
        "quiet": "abandoned",
    }


def test_an_unchanged_flow_replays_every_call_the_same(recorded):
    status, output = replay("clinic_intake")
    assert status == 0, output
    assert "6 call(s): 6 same, 0 changed, 0 diverged" in output
    assert "no call ends worse" in output


def test_an_edit_that_breaks_one_path_shows_exactly_that_call_diverged(recorded, project):
    # The way to fix a date of birth now asks for the name again: the caller's recorded
    # answer (a date) no longer fits the question.
    break_the_date_fix(project)
    status, output = replay("clinic_intake")
    assert status == 0, output  # nothing ends worse; a diverged call is not comparable
    assert "5 same, 0 changed, 1 diverged" in output
    line = next(line for line in output.splitlines() if line.startswith("diverged"))
    assert "clinic_fix_dob" in line
    assert "asks (ask_name)" in line and "to ask_dob:" in line
    assert 'was "October 13th 1962"' in line
    assert replay("clinic_intake", "--strict")[0] == 1
    data = orjson.loads(replay("clinic_intake", "--json")[1])
    verdicts = {r["call_id"]: r for r in data["results"]}
    diverged = verdicts["clinic_fix_dob"]["diverged"]
    assert diverged["turn"] == 6
    assert diverged["answer"] == "October 13th 1962"
    assert diverged["before"]["state"] == "ask_dob" and diverged["after"]["state"] == "ask_name"
    assert {r["verdict"] for c, r in verdicts.items() if c != "clinic_fix_dob"} == {"same"}


def test_an_edit_that_makes_outcomes_worse_fails_with_the_calls_it_hurts(recorded, project):
    edit(project, "    no_interruption: true\n    end_call: true", '    transfer: "+14155550100"')
    status, output = replay("clinic_intake")
    assert status == 1, output
    assert "3 same, 3 changed, 0 diverged" in output
    assert "3 call(s) end worse than they did" in output
    for name in ("plain", "early", "fix_dob"):
        assert f"clinic_{name}  outcome completed -> transferred  WORSE" in output
    assert "completed          3       0" in output
    assert "transferred        1       4" in output
    assert "-agent  (done): Thank you" not in output  # the same words, another ending
    assert "+(call ends: transferred)" in output


def test_a_version_kept_in_the_call_log_replays_after_the_file_changed(recorded, project):
    version = recorded["plain"].flow_version
    assert version is not None
    edit(project, "And what is the reason for your visit?", "Why are you calling today?")
    status, output = replay("clinic_intake")
    assert status == 0 and "6 same" in output  # the words changed, not the calls
    status, output = replay("--flow-version", version)
    assert status == 0, output
    assert f"version {version}" in output and "6 same" in output
    shown = CliRunner().invoke(main, ["calls", "show", "clinic_plain", "--flow-text"]).output
    assert "And what is the reason for your visit?" in shown
    assert "Why are you calling today?" not in shown


def test_calls_are_chosen_by_outcome_id_version_and_limit(recorded):
    assert "1 call(s)" in replay("clinic_intake", "--outcome", "gave_up")[1]
    status, output = replay("clinic_intake", "--call", "clinic_plain", "--call", "clinic_person")
    assert "2 call(s): 2 same" in output
    assert "2 call(s)" in replay("clinic_intake", "--limit", "2")[1]
    version = recorded["plain"].flow_version
    assert "6 call(s)" in replay("clinic_intake", "--recorded-version", str(version))[1]
    status, output = replay("clinic_intake", "--call", "nope")
    assert status == 1 and "no call nope" in output


def test_calls_exported_to_a_file_replay_like_the_call_log(recorded, project, tmp_path):
    export = tmp_path / "calls.jsonl"
    CliRunner().invoke(
        main, ["calls", "export", "--format", "jsonl", "--reveal", "-o", str(export)]
    )
    status, output = replay(
        "clinic_intake", "--from", str(export), "--database", "sqlite:///nowhere.db"
    )
    assert status == 0, output
    assert "6 call(s): 6 same" in output


def test_a_replayed_baseline_leaves_out_everything_but_the_flow_edit(recorded, project):
    break_the_date_fix(project)
    status, output = replay("clinic_intake", "--baseline", "replay")
    assert status == 0, output
    assert "baseline: replay" in output
    assert "5 same, 0 changed, 1 diverged" in output
