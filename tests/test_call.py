"""`dialplan call` against the local stand-in of the platform: one call, a batch, a rerun that
calls nobody twice, also after the command was killed mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.phone import Ledger
from engine.records import Database
from engine.testing.platform_api import PlatformAPI
from tests.helpers import EXAMPLE

CALLER_ID = "+14155550199"


@pytest.fixture
def platform() -> Iterator[PlatformAPI]:
    with PlatformAPI() as api:
        yield api


@pytest.fixture
def env(platform: PlatformAPI, monkeypatch: pytest.MonkeyPatch, call_log: str) -> dict[str, str]:
    values = {
        "DIALPLAN_PLATFORM_URL": platform.url,
        "DIALPLAN_PLATFORM_KEY": platform.key,
        "DIALPLAN_FROM_NUMBER": CALLER_ID,
        "DIALPLAN_FLOWS_DIR": str(EXAMPLE / "flows"),
        "DIALPLAN_PROMPTS_DIR": str(EXAMPLE / "prompts"),
        "DIALPLAN_PLATFORM_RETRIES": "2",
        "DIALPLAN_DATABASE_URL": call_log,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, ["call", *args], catch_exceptions=False)


def people(tmp_path: Path, count: int = 3, extra: str = "") -> Path:
    path = tmp_path / "people.csv"
    rows = [f"+1415555{100 + i:04d},Person {i},{i + 1} PM" for i in range(count)]
    path.write_text("phone,name,time\n" + "\n".join(rows) + "\n" + extra)
    return path


def ledger_of(url: str, batch: str) -> dict[str, object]:
    database = Database(url)
    try:
        return dict(Ledger(database).batch(batch))
    finally:
        database.close()


def test_one_call_is_placed_with_its_flow_and_variables_and_its_id_printed(env, platform, call_log):
    result = run(
        "--to",
        "+1 415 555 0100",
        "--flow",
        "booking",
        "--var",
        "name=Dana Scully",
        "--agent",
        "agent_42",
    )
    assert result.exit_code == 0, result.output
    call_id = result.stdout.strip()
    assert list(platform.calls) == [call_id]
    body = platform.requests[0].body
    assert body["from_number"] == CALLER_ID and body["to_number"] == "+14155550100"
    assert body["metadata"]["flow"] == "booking"
    assert body["retell_llm_dynamic_variables"] == {"name": "Dana Scully"}
    assert body["override_agent_id"] == "agent_42"
    assert body["idempotency_key"].startswith("key_")
    database = Database(call_log)
    try:
        placement = Ledger(database).get(body["metadata"]["dialplan"]["placement"])
    finally:
        database.close()
    assert placement is not None and (placement.status, placement.call_id) == ("placed", call_id)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "+14155550100", "--flow", "bookin"], "no flow named 'bookin'"),
        (["--to", "4155550100", "--flow", "booking"], "has no country code we know"),
        (["--flow", "booking"], "give either --to NUMBER (one call) or --csv FILE"),
        (["--to", "+14155550100", "--flow", "booking", "--var", "x"], "'x' is not key=value"),
    ],
)
def test_mistakes_are_caught_before_anything_is_placed(env, platform, args, says):
    result = run(*args)
    assert result.exit_code != 0 and says in result.output
    assert platform.requests == []


def test_missing_platform_settings_are_named(env, platform, monkeypatch):
    monkeypatch.delenv("DIALPLAN_PLATFORM_URL")
    monkeypatch.delenv("DIALPLAN_PLATFORM_KEY")
    result = run("--to", "+14155550100", "--flow", "booking")
    assert result.exit_code == 2  # an operator's mistake, as a wrong flag: both named at once
    lines = result.output.splitlines()
    assert lines[0].startswith("dialplan: DIALPLAN_PLATFORM_URL is not set")
    assert lines[1] == "dialplan: DIALPLAN_PLATFORM_KEY is not set: the platform's API key"
    monkeypatch.setenv("DIALPLAN_PLATFORM_URL", platform.url)
    monkeypatch.setenv("DIALPLAN_PLATFORM_KEY", platform.key)
    monkeypatch.delenv("DIALPLAN_FROM_NUMBER")
    result = run("--to", "+14155550100", "--flow", "booking")
    assert "no caller id: give --from NUMBER or set DIALPLAN_FROM_NUMBER" in result.output


def test_a_refused_call_is_one_line_and_exit_status_1(env, platform):
    platform.fail(402, message="Insufficient balance")
    result = run("--to", "+14155550100", "--flow", "booking")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: the platform account cannot pay for calls (HTTP 402): Insufficient balance"
    )
    assert platform.key not in result.output


def test_a_batch_places_every_row_and_a_rerun_calls_nobody_twice(env, platform, call_log, tmp_path):
    path = people(tmp_path)
    first = run("--csv", str(path), "--flow", "booking", "--rate", "50", "--var", "clinic=Elm")
    assert first.exit_code == 0, first.output
    assert len(platform.calls) == 3
    sent = sorted(
        (r.body["to_number"], r.body["retell_llm_dynamic_variables"]) for r in platform.requests
    )
    assert sent[0] == ("+14155550100", {"clinic": "Elm", "name": "Person 0", "time": "1 PM"})
    assert {r.body["metadata"]["dialplan"]["batch"] for r in platform.requests} == {"people"}
    for call in platform.calls.values():
        assert call["call_id"] in first.stdout  # a result per row: the call id
    assert "3 placed" in first.stderr

    again = run("--csv", str(path), "--flow", "booking", "--rate", "50")
    assert again.exit_code == 0
    assert len(platform.requests) == 3 and len(platform.calls) == 3
    assert again.stdout.count("skipped") == 3 and "called already" in again.stdout

    bigger = people(tmp_path, count=4)  # a row added: only the new person is called
    assert run("--csv", str(bigger), "--flow", "booking", "--rate", "50").exit_code == 0
    assert len(platform.calls) == 4
    assert len(ledger_of(call_log, "people")) == 4


def test_invalid_rows_stop_the_batch_unless_told_to_place_the_others(env, platform, tmp_path):
    path = people(tmp_path, extra="555-0100,Nobody,3 PM\n")
    stopped = run("--csv", str(path), "--flow", "booking")
    assert stopped.exit_code == 1
    assert f"{path}:5: '555-0100' has no country code we know" in stopped.output
    assert "nothing was placed" in stopped.output and platform.requests == []
    placed = run("--csv", str(path), "--flow", "booking", "--rate", "50", "--skip-invalid")
    assert placed.exit_code == 0, placed.output
    assert len(platform.calls) == 3
    assert "invalid" in placed.stdout and "3 placed, 1 invalid" in placed.stderr


def test_a_dry_run_shows_what_would_be_placed_and_places_nothing(env, platform, tmp_path):
    path = people(tmp_path)
    run("--csv", str(path), "--flow", "booking", "--rate", "50")
    bigger = people(tmp_path, count=4, extra="+1555,Bad,1 PM\n")
    result = run("--csv", str(bigger), "--flow", "booking", "--dry-run", "--skip-invalid")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("batch 'people' from") and "flow booking" in lines[0]
    assert "skip" in lines[2] and "called already" in lines[2]
    assert "call" in lines[5] and "name=Person 3, time=4 PM" in lines[5]
    assert "not call" in lines[6]
    assert lines[-1] == (
        "dry run: 1 call(s) would be placed, 3 skipped, 1 invalid row(s); nothing was placed"
    )
    assert len(platform.requests) == 3


def test_a_wrong_key_stops_the_batch_and_a_rerun_places_the_rest(
    env, platform, tmp_path, monkeypatch
):
    path = people(tmp_path, count=4)
    monkeypatch.setenv("DIALPLAN_PLATFORM_KEY", "wrong")
    stopped = run("--csv", str(path), "--flow", "booking", "--rate", "50", "--concurrency", "1")
    assert stopped.exit_code == 1
    assert stopped.stdout.count("stopped") == 3 and "HTTP 401" in stopped.stdout
    monkeypatch.setenv("DIALPLAN_PLATFORM_KEY", platform.key)
    again = run("--csv", str(path), "--flow", "booking", "--rate", "50")
    assert again.exit_code == 0, again.output
    assert len(platform.calls) == 4


def test_a_batch_killed_mid_way_and_run_again_calls_each_number_exactly_once(
    env, platform, call_log, tmp_path
):
    count = 8
    path = people(tmp_path, count=count)
    platform.slow(0.5)  # answers come late: the command dies with calls made but unanswered
    command = [
        sys.executable,
        "-m",
        "engine.cli",
        "call",
        "--csv",
        str(path),
        "--flow",
        "booking",
        "--concurrency",
        "3",
        "--rate",
        "50",
    ]
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        platform.wait_for_requests(4, timeout=20)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    made_before = len(platform.calls)
    interrupted = [p for p in ledger_of(call_log, "people").values() if p.status == "placing"]  # type: ignore[attr-defined]
    assert 0 < made_before < count and interrupted  # killed mid-batch, with calls in flight

    platform.slow(0)
    result = run("--csv", str(path), "--flow", "booking", "--rate", "50")
    assert result.exit_code == 0, result.output
    numbers = [f"+1415555{100 + i:04d}" for i in range(count)]
    assert [len(platform.calls_to(number)) for number in numbers] == [1] * count
    keys = [r.body.get("idempotency_key") for r in platform.requests]
    assert any(keys.count(key) == 2 for key in keys)  # an interrupted row asked with its own key
    placements = ledger_of(call_log, "people")
    assert {p.status for p in placements.values()} == {"placed"}  # type: ignore[attr-defined]
    assert {p.call_id for p in placements.values()} == set(platform.calls)  # type: ignore[attr-defined]


def test_the_progress_of_a_batch_goes_to_stderr_and_the_results_to_stdout(env, platform, tmp_path):
    result = run("--csv", str(people(tmp_path, count=2)), "--flow", "booking", "--rate", "50")
    assert result.stdout.splitlines()[0].split() == [
        "line",
        "number",
        "result",
        "call",
        "id",
        "/",
        "error",
    ]
    assert "batch people" in result.stderr


def test_a_rate_limited_call_is_asked_again_and_placed_once(env, platform):
    platform.fail(429, times=2, retry_after="0")
    result = run("--to", "+14155550100", "--flow", "booking")
    assert result.exit_code == 0 and len(platform.calls) == 1
    assert [r.status for r in platform.requests] == [429, 429, 201]
