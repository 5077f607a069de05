"""`dialplan calls to-test`: a recorded call becomes a conversation test that passes as written."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.records import CallRecord
from engine.replay.to_test import placeholder
from engine.testing.conversation_spec import load_conversations
from tests.helpers import MEMBER_FLOW
from tests.recorded import CLINIC_CALLS, Caller, copy_example, server_settings
from tests.test_conversations import cli_env

BOOKING = [
    "A table for four please",
    "Tomorrow",
    "Seven pm",
    "Seven thirty then",
    "Dana Scully",
    "yes",
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_example(tmp_path / "project")
    (root / "flows" / "member.yaml").write_text(MEMBER_FLOW)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def recorded(project, start_server, call_log, no_llm) -> dict[str, CallRecord]:  # type: ignore[no-untyped-def]
    server = start_server(**server_settings(project))
    caller = Caller(server, call_log)

    async def calls() -> dict[str, CallRecord]:
        return {
            "fix_dob": await caller.call("clinic_fix_dob", CLINIC_CALLS["fix_dob"]),
            "quiet": await caller.call("clinic_quiet", CLINIC_CALLS["quiet"]),
            "member": await caller.call("member_1", ["Dana Scully", "XG4471209"], "member"),
            "booking": await caller.call("booking_1", BOOKING, "booking"),
        }

    return asyncio.run(calls())


def to_test(call_id: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["calls", "to-test", call_id, *args])
    assert result.exit_code == 0, result.output
    return result.output


def run_tests(project: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "test", *paths],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_placeholders_keep_the_shape_and_none_of_the_value():
    assert placeholder("XG4471209") == "AB1234567"
    assert placeholder("+1 (617) 555-0123") == "+1 (234) 567-8901"
    assert placeholder("1980-03-04") == "2000-01-01"
    assert placeholder("dana@example.com") == "abcd@efghijk.lmn"


def test_recorded_calls_become_tests_that_pass_as_written(recorded, project):
    written = [
        to_test(call_id).split()[1].rstrip(":")
        for call_id in ("clinic_fix_dob", "clinic_quiet", "member_1", "booking_1")
    ]
    assert written[0] == "tests/conversations/clinic_intake_clinic_fix_dob.yaml"
    for path in written:
        load_conversations(project / path)  # a valid conversation file
    result = run_tests(project, *written)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_the_test_says_what_the_call_did_turn_by_turn(recorded, project):
    text = to_test("clinic_fix_dob", "-o", "-")
    assert text.startswith("# Written by `dialplan calls to-test clinic_fix_dob`")
    test = yaml.safe_load(text)["tests"][0]
    assert test["turns"][0] == {"caller": "Fox Mulder", "expect": {"state": "ask_dob"}}
    assert test["turns"][4] == {"caller": "my date of birth", "expect": {"state": "ask_dob"}}
    assert test["expect"]["ended"] is True
    assert test["expect"]["slots"]["date_of_birth"] == "1962-10-13"
    quiet = yaml.safe_load(to_test("clinic_quiet", "-o", "-"))["tests"][0]
    assert quiet["turns"][1] == {"silence": True, "expect": {"state": "ask_dob"}}
    assert "ended" not in quiet["expect"]  # the caller hung up
    booking = yaml.safe_load(to_test("booking_1", "-o", "-"))
    stubs = booking["tests"][0]["actions"]
    checks = stubs["booking.check_availability"]["results"]  # one answer per run, in turn
    assert [check["available"] for check in checks] == [False, True]  # 7 PM taken, 7:30 free
    assert stubs["booking.book"]["result"]["booked"] is True


def test_sensitive_values_never_reach_the_test(recorded, project):
    text = to_test("member_1", "-o", "-")
    assert "XG4471209" not in text and "X G 4 4 7 1" not in text
    assert "Sensitive values (member_id) are placeholders" in text
    test = yaml.safe_load(text)["tests"][0]
    assert test["turns"][1]["caller"] == "AB1234567"
    assert test["expect"]["slots"]["member_id"] == "AB1234567"


def test_an_existing_file_is_kept_unless_forced(recorded, project):
    to_test("clinic_quiet")
    again = CliRunner().invoke(main, ["calls", "to-test", "clinic_quiet"])
    assert again.exit_code == 1 and "exists (--force overwrites it)" in again.output
    to_test("clinic_quiet", "--force")
    missing = CliRunner().invoke(main, ["calls", "to-test", "nope"])
    assert missing.exit_code == 1 and "no call 'nope'" in missing.output
