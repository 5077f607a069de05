"""`dialplan calls`: list, show and export the call log, masked unless revealed."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import click
import orjson
import pytest
from click.testing import CliRunner

from engine.agent import MASK
from engine.cli import main
from engine.cli.calls import parse_since
from engine.records import CallRecord, Database, TurnRecord, verify
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import free_port
from engine.testing.webhook import WebhookReceiver
from tests.helpers import write_project
from tests.test_cli import finish, wait_healthy
from tests.test_recording import FLOW

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def member_call(call_id: str = "call_a", **fields) -> CallRecord:  # type: ignore[no-untyped-def]
    started = fields.pop("started_at", datetime.now(UTC) - timedelta(minutes=10))
    fields.setdefault("outcome", "completed")
    fields.setdefault("slots", {"name": "Dana Scully", "member_id": "XG4471209"})
    return CallRecord(
        call_id=call_id,
        flow="member",
        started_at=started,
        ended_at=started + timedelta(seconds=75),
        duration_s=75.0,
        from_number="+14155550123",
        sensitive=["member_id"],
        transcript=[
            {"role": "agent", "content": "What is your member number?"},
            {"role": "user", "content": "x g four four seven one two oh nine"},
            {"role": "agent", "content": "I have XG4471209. Goodbye!"},
        ],
        turns=[
            TurnRecord(
                response_id=1,
                started_at=started,
                transcript_len=2,
                state_before="ask_member",
                state_after="done",
                plan="move",
                understood=[{"kind": "slot", "name": "member_id", "value": MASK, "by": "parser"}],
                moves=[{"source": "ask_member", "target": "done", "how": "slots filled"}],
                said=f"I have {MASK}. Goodbye!",
                first_speech_ms=0.4,
                end_call=True,
            )
        ],
        **fields,
    )


@pytest.fixture
def log_url(call_log: str) -> str:
    database = Database(call_log)
    database.migrate()
    database.save(member_call())
    database.save(
        member_call(
            "call_b",
            outcome="abandoned",
            started_at=datetime.now(UTC) - timedelta(days=2),
            slots={"name": "Fox Mulder"},
        )
    )
    database.close()
    return call_log


def start(environment: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run(*args: str) -> click.testing.Result:
    result = CliRunner().invoke(main, ["calls", *args], catch_exceptions=False)
    return result


def test_since_takes_relative_and_iso_times():
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("90m", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("3d", NOW) == NOW - timedelta(days=3)
    assert parse_since("1w", NOW) == NOW - timedelta(weeks=1)
    assert parse_since("2026-11-25T10:00Z") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    local = parse_since("2026-11-25")
    assert local.tzinfo is not None and local.replace(tzinfo=None) == datetime(2026, 11, 25)
    with pytest.raises(click.BadParameter, match="2h, 3d"):
        parse_since("yesterday-ish")


def test_list_shows_calls_with_their_slots_masked_unless_revealed(log_url):
    listed = run("list", "--database", log_url)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["started", "call", "flow", "outcome", "duration", "slots"]
    assert "call_a" in lines[1] and "completed" in lines[1] and "1m 15s" in lines[1]
    assert f"name=Dana Scully, member_id={MASK}" in lines[1]
    assert "call_b" in lines[2] and "abandoned" in lines[2]
    assert "XG4471209" not in listed.output
    assert "member_id=XG4471209" in run("list", "--database", log_url, "--reveal").output


def test_list_filters_and_json(log_url):
    recent = run("list", "--database", log_url, "--since", "1d", "--json")
    rows = orjson.loads(recent.output)
    assert [row["call_id"] for row in rows] == ["call_a"]
    assert rows[0]["slots"]["member_id"] == MASK and "turns" not in rows[0]
    gone = run("list", "--database", log_url, "--outcome", "abandoned", "--json")
    assert [row["call_id"] for row in orjson.loads(gone.output)] == ["call_b"]
    assert run("list", "--database", log_url, "--flow", "booking").output == "no calls\n"
    assert run("list", "--database", log_url, "--outcome", "lost").exit_code == 2


def test_show_has_the_transcript_and_the_turns_masked(log_url):
    shown = run("show", "call_a", "--database", log_url)
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert "call call_a   member   completed" in text
    assert f"member_id  {MASK}   (sensitive)" in text
    assert "transcript:" in text and f"caller: {MASK}" in text  # the words that gave it
    assert f"agent:  I have {MASK}. Goodbye!" in text
    assert "#1 response  ask_member -> done  [move]" in text
    assert "slot member_id=*** by parser; entered done (slots filled); no model" in text
    assert "XG4471209" not in text
    record = orjson.loads(run("show", "call_a", "--database", log_url, "--json").output)
    assert record["turns"][0]["end_call"] is True and len(record["transcript"]) == 3
    revealed = run("show", "call_a", "--database", log_url, "--reveal").output
    assert "x g four four seven one two oh nine" in revealed and "XG4471209" in revealed
    missing = CliRunner().invoke(main, ["calls", "show", "call_zzz", "--database", log_url])
    assert missing.exit_code == 1 and "no call 'call_zzz'" in missing.output


def test_export_csv_has_a_column_per_slot_and_jsonl_a_record_per_line(log_url, tmp_path):
    out = tmp_path / "calls.csv"
    exported = run("export", "--database", log_url, "-o", str(out))
    assert exported.exit_code == 0 and "2 call(s) written" in exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["call_id"] for row in rows] == ["call_b", "call_a"]  # oldest first
    assert rows[1]["name"] == "Dana Scully" and rows[1]["member_id"] == MASK
    assert rows[0]["member_id"] == "" and rows[1]["duration_s"] == "75.0"
    revealed = run("export", "--database", log_url, "--reveal", "--since", "1d").stdout
    assert next(csv.DictReader(io.StringIO(revealed)))["member_id"] == "XG4471209"
    lines = run("export", "--database", log_url, "--format", "jsonl").stdout.splitlines()
    records = [orjson.loads(line) for line in lines]
    assert [r["call_id"] for r in records] == ["call_b", "call_a"]
    assert records[1]["slots"]["member_id"] == MASK and records[1]["turns"]


def test_a_missing_call_log_is_named_not_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = CliRunner().invoke(main, ["calls", "list", "--database", url])
    assert result.exit_code == 1 and "no call log at" in result.output
    assert not (tmp_path / "elsewhere.db").exists()


async def test_after_a_call_the_log_and_the_webhook_have_it_and_the_log_never_the_secret(
    tmp_path, call_log
):
    """`dialplan serve`, one call, then `dialplan calls`: the quick start, end to end."""
    root = write_project(tmp_path / "project", {"member": FLOW})
    port = free_port()
    with WebhookReceiver() as receiver:
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DIALPLAN_"))
        }
        environment.update(
            DIALPLAN_DATABASE_URL=call_log,
            DIALPLAN_FLOWS_DIR=str(root / "flows"),
            DIALPLAN_PROMPTS_DIR=str(root / "prompts"),
            DIALPLAN_WEBHOOK_URL=receiver.url,
            DIALPLAN_WEBHOOK_SECRET="whsec-cli",
        )
        process = start(environment, "serve", "--port", str(port), "--log-level", "DEBUG")
        try:
            wait_healthy(port, process)
            url = f"ws://127.0.0.1:{port}/llm-websocket/call_quick"
            async with PlatformCall.connect(url) as call:
                dialog = Dialog(call)
                await dialog.start()
                await dialog.say("My name is Dana Scully")
                await dialog.say("XG4471209")
                await call.close()
            (delivery,) = await asyncio.to_thread(receiver.wait, 1)
        finally:
            process.send_signal(signal.SIGINT)
            output = finish(process, 10)
    assert verify(b"whsec-cli", delivery.body, delivery.signature)
    assert delivery.json["call"]["slots"]["member_id"] == "XG4471209"
    assert "call.recorded" in output and "webhook.delivered" in output
    assert "XG4471209" not in output  # not even at DEBUG
    assert "whsec-cli" not in output
    listed = run("list", "--database", call_log).output
    assert "call_quick" in listed and "name=Dana Scully" in listed
    shown = run("show", "call_quick", "--database", call_log).output
    assert "#2 response  ask_member -> done  [move]" in shown


def test_show_and_list_show_values_as_chat_does(call_log: str):
    database = Database(call_log)
    database.migrate()
    slots = {"name": "Dana Scully", "leaking": False, "urgent": True, "times": ["18:00", "19:30"]}
    database.save(member_call("call_v", slots=slots))
    database.close()
    runner = CliRunner()
    shown = runner.invoke(main, ["calls", "show", "call_v", "--database", call_log])
    assert shown.exit_code == 0, shown.output
    assert "  leaking  no\n" in shown.output
    assert "  urgent   yes\n" in shown.output
    assert "  times    [18:00, 19:30]\n" in shown.output
    listed = runner.invoke(main, ["calls", "list", "--database", call_log])
    assert "leaking=no, urgent=yes, times=[18:00, 19:30]" in listed.output


def test_chat_and_calls_show_values_with_one_helper():
    from engine.cli import _values, calls, chat

    assert chat.shown is calls.shown is _values.shown
    assert [_values.shown(v) for v in (False, True, None, [True, "a"], 4)] == [
        "no",
        "yes",
        "(not set)",
        "[yes, a]",
        "4",
    ]
