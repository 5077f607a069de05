"""Rollouts: a candidate version for a share of a flow's calls; promote, roll back; over sockets."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.records import CallRecord, Database
from engine.rollout.assign import arm_of
from engine.testing.platform import Dialog, PlatformCall
from tests.recorded import CLINIC_CALLS, Caller, copy_example, server_settings

NEW_QUESTION = "What brings you in today?"
OLD_QUESTION = "And what is the reason for your visit?"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    found = copy_example(tmp_path / "project")
    monkeypatch.setenv("DIALPLAN_FLOWS_DIR", str(found / "flows"))
    monkeypatch.setenv("DIALPLAN_PROMPTS_DIR", str(found / "prompts"))
    monkeypatch.setenv("DIALPLAN_PROJECT_FILE", str(found / "dialplan.yaml"))
    stable = found / "flows" / "clinic_intake.yaml"
    candidate = found / "flows" / "clinic_intake.next.yaml"
    candidate.write_text(stable.read_text().replace(OLD_QUESTION, NEW_QUESTION))
    return found


def cli(*args: str, status: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == status, result.output
    return result.output


def declare(root: Path, share: float, candidate: str = "flows/clinic_intake.next.yaml") -> None:
    (root / "dialplan.yaml").write_text(
        "# the clinic's rollouts\n"
        f"rollouts:\n  clinic_intake:\n    candidate: {candidate}\n    share: {share}\n"
    )


def test_arms_are_stable_and_the_share_only_moves_calls_to_the_candidate():
    ids = [f"call_{n}" for n in range(4000)]
    at_10 = {i for i in ids if arm_of("booking", i, 10) == "candidate"}
    at_50 = {i for i in ids if arm_of("booking", i, 50) == "candidate"}
    assert at_10 <= at_50
    assert abs(len(at_10) / len(ids) - 0.10) < 0.02
    assert abs(len(at_50) / len(ids) - 0.50) < 0.03
    assert all(arm_of("booking", i, 10) == arm_of("booking", i, 10) for i in ids[:100])
    assert arm_of("booking", "x", 100) == "candidate"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rollouts:\n  clinic_intake:\n    candidate: flows/clinic_intake.next.yaml\n"
            "    shares: 10\n",
            "dialplan.yaml:4: rollouts.clinic_intake.shares: unknown key (did you mean 'share'?)",
        ),
        (
            "rollouts:\n  clinic_intake: {candidate: flows/clinic_intake.next.yaml, share: 150}\n",
            "dialplan.yaml:2: rollouts.clinic_intake.share: a percent of calls, more than 0 and "
            "at most 100",
        ),
        (
            "rollouts:\n  clinic_intak: {candidate: flows/clinic_intake.next.yaml, share: 5}\n",
            "dialplan.yaml:2: rollouts: unknown flow 'clinic_intak' "
            "(did you mean 'clinic_intake'?)",
        ),
        (
            "rollouts:\n  clinic_intake:\n    candidate: flows/nope.yaml\n    share: 5\n",
            "dialplan.yaml:3: candidate: no flow file flows/nope.yaml",
        ),
        (
            "rollouts:\n  clinic_intake: {candidate: flows/booking.yaml, share: 5}\n",
            "dialplan.yaml:2: rollouts.clinic_intake: the candidate flows/booking.yaml is flow "
            "'booking'",
        ),
        (
            "rollout:\n  clinic_intake: {}\n",
            "dialplan.yaml:1: rollout: unknown key (did you mean 'rollouts'?)",
        ),
    ],
)
def test_mistakes_in_the_project_file_are_named_with_file_and_line(root, text, message):
    (root / "dialplan.yaml").write_text(text)
    output = cli("validate", status=1)
    assert f"{root / message}" in output or message in output, output
    assert "project file" in output


def test_a_project_file_without_mistakes_validates(root):
    declare(root, 10)
    output = cli("validate")
    assert "project file" in output and ": ok" in output


async def record(url: str, call_id: str) -> CallRecord:
    database = Database(url)
    try:
        for _ in range(400):  # bounded: 400 x 25 ms
            found = database.call(call_id)
            if found is not None and found.ended_at is not None:
                return found
            await asyncio.sleep(0.025)
    finally:
        database.close()
    raise AssertionError(f"no record of {call_id}")


def test_half_the_calls_get_the_candidate_by_their_id_and_keep_it(
    root, start_server, call_log, no_llm
):
    declare(root, 50)
    server = start_server(**server_settings(root, call_grace=5))
    caller = Caller(server, call_log)
    ids = [f"rollout_{n}" for n in range(12)]

    async def calls() -> list[CallRecord]:
        return [await caller.call(i, CLINIC_CALLS["plain"]) for i in ids]

    records = asyncio.run(calls())
    arms = {r.call_id: r.rollout["arm"] for r in records if r.rollout}
    assert arms == {i: arm_of("clinic_intake", i, 50) for i in ids}
    assert set(arms.values()) == {"stable", "candidate"}
    versions = {
        arm: {r.flow_version for r in records if arms[r.call_id] == arm} for arm in arms.values()
    }
    assert len(versions["stable"]) == len(versions["candidate"]) == 1
    assert versions["stable"] != versions["candidate"]
    for r in records:
        said = " ".join(u["content"] for u in r.transcript if u["role"] == "agent")
        assert (NEW_QUESTION in said) == (arms[r.call_id] == "candidate")
        assert r.rollout == {
            "arm": arms[r.call_id],
            "share": 50,
            "candidate": "flows/clinic_intake.next.yaml",
        }

    # Both versions side by side, each with its arm.
    text = cli("calls", "compare", "clinic_intake")
    assert "(candidate 50%)" in text and "(stable)" in text
    status = cli("rollout", "status", "clinic_intake")
    assert "answers 50% of new calls" in status
    assert "stable " in status and "candidate " in status

    metrics = httpx.get(server.http("/metrics")).text
    assert 'arm="candidate",flow="clinic_intake",outcome="completed"' in metrics


def test_a_reconnect_keeps_its_arm_and_version_after_a_rollback(
    root, start_server, call_log, no_llm
):
    declare(root, 50)
    server = start_server(**server_settings(root, call_grace=5))
    call_id = next(
        f"again_{n}" for n in range(100) if arm_of("clinic_intake", f"again_{n}", 50) == "candidate"
    )

    async def talk() -> CallRecord:
        async with PlatformCall.connect(server.url(call_id)) as call:
            dialog = Dialog(call)
            await dialog.start()
            await dialog.say("My name is Dana Scully")
            await dialog.say("March 3rd 1980")
            call.drop()  # the network drops; meanwhile the rollout ends
        cli("rollout", "rollback", "clinic_intake")
        async with PlatformCall.connect(server.url(call_id)) as call:
            await call.response(0)  # no second greeting: the same call
            dialog.call, dialog.next_id = call, 1
            await dialog.say("a sore throat")
            await dialog.say("yes")
            await call.close()
        return await record(call_log, call_id)

    found = asyncio.run(talk())
    assert found.rollout is not None and found.rollout["arm"] == "candidate"
    assert found.outcome == "completed"
    said = " ".join(u["content"] for u in found.transcript if u["role"] == "agent")
    assert NEW_QUESTION in said  # the candidate's words, to the end of the call
    assert not (root / "flows" / "clinic_intake.next.yaml").exists()

    async def after() -> CallRecord:
        return await Caller(server, call_log).call("after_rollback", CLINIC_CALLS["plain"])

    later = asyncio.run(after())
    assert later.rollout is None and later.flow_version != found.flow_version
    assert f"version {found.flow_version}" in cli("calls", "versions", "clinic_intake") or (
        found.flow_version in cli("calls", "versions", "clinic_intake")
    )


def test_start_share_promote_edit_the_files_and_log_who_did_it(
    root, start_server, call_log, no_llm
):
    (root / "dialplan.yaml").write_text("# decided in review\nrollouts: {}\n")
    started = cli(
        "rollout",
        "start",
        "clinic_intake",
        "--candidate",
        str(root / "flows" / "clinic_intake.next.yaml"),
        "--share",
        "10",
    )
    assert "10% of clinic_intake's new calls get flows/clinic_intake.next.yaml" in started
    text = (root / "dialplan.yaml").read_text()
    assert text.startswith("# decided in review\n")
    assert "candidate: flows/clinic_intake.next.yaml" in text and "share: 10" in text
    cli("validate")
    again = cli(
        "rollout",
        "start",
        "clinic_intake",
        "--candidate",
        "flows/clinic_intake.next.yaml",
        "--share",
        "5",
        status=1,
    )
    assert "rolled out already" in again
    cli("rollout", "share", "clinic_intake", "100")
    assert "share: 100" in (root / "dialplan.yaml").read_text()

    server = start_server(**server_settings(root))
    candidate_text = (root / "flows" / "clinic_intake.next.yaml").read_text()

    async def one(call_id: str) -> CallRecord:
        return await Caller(server, call_log).call(call_id, CLINIC_CALLS["plain"])

    before = asyncio.run(one("before_promote"))
    assert before.rollout is not None and before.rollout["arm"] == "candidate"
    promoted = cli("rollout", "promote", "clinic_intake")
    assert "replaced by clinic_intake.next.yaml" in promoted
    assert (root / "flows" / "clinic_intake.yaml").read_text() == candidate_text
    assert not (root / "flows" / "clinic_intake.next.yaml").exists()
    assert (root / "dialplan.yaml").read_text() == "# decided in review\nrollouts: {}\n"
    after = asyncio.run(one("after_promote"))  # the running server picked the change up
    assert after.rollout is None and after.flow_version == before.flow_version

    user = getpass.getuser()
    history = cli("rollout", "history", "clinic_intake")
    lines = history.splitlines()
    assert len(lines) == 3 and all(user in line for line in lines)
    assert "promoted flows/clinic_intake.next.yaml" in lines[0]
    assert "share 10% -> 100%" in lines[1]
    assert "started: flows/clinic_intake.next.yaml for 10%" in lines[2]
    data = orjson.loads(cli("rollout", "history", "--json"))
    assert data[0]["details"]["candidate_version"] == before.flow_version


def test_a_version_kept_in_the_call_log_can_be_the_candidate(root, start_server, call_log, no_llm):
    (root / "flows" / "clinic_intake.next.yaml").unlink()
    server = start_server(**server_settings(root))
    old = asyncio.run(Caller(server, call_log).call("old_version", CLINIC_CALLS["plain"]))
    stable = root / "flows" / "clinic_intake.yaml"
    stable.write_text(stable.read_text().replace(OLD_QUESTION, NEW_QUESTION))
    cli("rollout", "start", "clinic_intake", "--candidate", str(old.flow_version), "--share", "100")
    new = asyncio.run(Caller(server, call_log).call("served_old", CLINIC_CALLS["plain"]))
    assert new.flow_version == old.flow_version
    assert new.rollout == {"arm": "candidate", "share": 100, "candidate": old.flow_version}
    said = " ".join(u["content"] for u in new.transcript if u["role"] == "agent")
    assert OLD_QUESTION in said
    cli("rollout", "promote", "clinic_intake")
    assert OLD_QUESTION in stable.read_text()
