"""A sensitive value never reaches storage in any form the agent can say it in.

The agent reads a sensitive value back in whatever form its flow renders (spelled, in digit
groups, upper case, as a date): each line is rendered a second time for the call log with the
value hidden, and every spoken form of the value is masked where the platform sends the words
back. Checked over a real call on a real server, for every voice filter, in the call log,
``dialplan calls show`` and export, and the console's live snapshot.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.records import Database
from engine.server.live import snapshot
from engine.testing.platform import Dialog, PlatformCall
from tests.helpers import write_project

FORMS = {
    # how a line says the member number or birthday -> what the caller hears (and must not leak)
    "{{ slots.member_id }}": "4417092",
    "{{ slots.member_id | spell }}": "4, 4, 1, 7, 0, 9, 2",
    "{{ slots.member_id | digits }}": "4 4 1, 7 0 9, 2",
    "{{ slots.member_id | digits(2) }}": "4 4, 1 7, 0 9, 2",
    "{{ slots.member_id[-4:] }}": "7092",
    "{{ slots.member_id | replace('', ' ') | trim }}": "4 4 1 7 0 9 2",
    "{{ slots.birthday | spoken_date }}": "March 3rd, 1980",
    "{{ slots.birthday | spoken_date(year=False, weekday=True) }}": "Monday, March 3rd",
}

FLOW = """\
flow: member
begin: Hi, this is Acme Health. What is your member number?
slots:
  member_id: {{type: text, sensitive: true}}
  birthday: {{type: date, past: true, with_year: true, sensitive: true}}
states:
  ask_member:
    say: What is your member number?
    collect: [member_id]
    next: [{{to: ask_birthday}}]
  ask_birthday:
    say: And your date of birth?
    collect: [birthday]
    next: [{{to: confirm}}]
  confirm:
    say: "I have {form}. Is that right?"
    read_back: [member_id, birthday]
    next: [{{to: done}}]
  done:
    say: Thanks. Goodbye!
    end_call: true
"""


@pytest.mark.parametrize("form", list(FORMS), ids=list(FORMS.values()))
async def test_a_read_back_in_any_form_is_masked_wherever_the_call_is_kept(
    form, start_server, no_llm, tmp_path, call_log
):
    leak = FORMS[form]
    root = write_project(tmp_path / "project", {"member": FLOW.format(form=form)})
    server = start_server(
        agent="flow", flows_dir=root / "flows", prompts_dir=root / "prompts", call_grace=0
    )
    async with PlatformCall.connect(server.url("call_secret")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("4417092")
        read = await dialog.say("March 3rd 1980")
        assert leak in read.text  # the caller hears it
        live = snapshot(server.runtime.store.get("call_secret"), "live")
        await dialog.say("yes")
    assert leak not in json.dumps([live.transcript, live.last_turn])

    database = Database(call_log)
    try:
        for _ in range(200):  # bounded: 200 x 25 ms
            record = database.call("call_secret")
            if record is not None:
                break
            await asyncio.sleep(0.025)
        assert record is not None
    finally:
        database.close()
    # The log keeps the slots and the caller's words for the signed webhook, and shows them
    # masked; the agent's words are stored masked.
    agent = [u["content"] for u in record.transcript if u["role"] == "agent"]
    said = [turn.said for turn in record.turns]
    assert not [line for line in agent + said if leak in line]
    assert any(line.startswith("I have *") for line in said)

    runner = CliRunner()
    for args in (["show", "call_secret"], ["show", "call_secret", "--json"], ["export"]):
        shown = runner.invoke(main, ["calls", *args, "--database", call_log])
        assert shown.exit_code == 0, shown.output
        assert leak not in shown.output, args
