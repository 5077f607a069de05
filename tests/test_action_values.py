"""What actions are given: one expression is its typed value; an empty slot is null, or ""."""

from __future__ import annotations

from typing import Any

from engine.flow import FlowRunner, Plugin
from tests.helpers import project, write_project

GIVEN: list[dict[str, Any]] = []

plugin = Plugin()


@plugin.action("test.record")
def record(**args: Any) -> dict[str, object]:
    GIVEN.append(args)
    return {}


FLOW = """\
flow: typed
plugins: [tests.test_action_values]
slots:
  party_size: {type: number}
  ok: {type: yes_no}
  note: {type: text, source: action}
states:
  ask_party:
    say: How many of you?
    collect: [party_size]
    next: [{to: ask_ok}]
  ask_ok:
    say: Inside?
    collect: [ok]
    next: [{to: done}]
  done:
    actions:
      - call: test.record
        args:
          size: "{{ slots.party_size }}"
          size_spaced: " {{ slots.party_size }} "
          inside: "{{ slots.ok }}"
          note: "{{ slots.note | default(none) }}"
          sizes: "{{ [slots.party_size, slots.party_size + 1] }}"
          nested: {deep: ["{{ slots.party_size * 2 }}"]}
          text: "a table for {{ slots.party_size }}"
          two: "{{ slots.party_size }}{{ slots.ok }}"
          note_text: "note: {{ slots.note | default('') }}."
    say: >-
      For {{ slots.party_size }}.
      Note: {{ slots.note | default('') }}.
      Or: {{ slots.note | default('none given') }}.
    end_call: true
"""


async def test_one_expression_passes_its_value_and_text_stays_text(tmp_path):
    write_project(tmp_path, {"typed": FLOW})
    GIVEN.clear()
    runner = FlowRunner(project(tmp_path).open_flow("typed"))
    runner.start()
    await runner.say("four of us")
    reply = await runner.say("yes")
    assert GIVEN == [
        {
            "size": 4,
            "size_spaced": 4,
            "inside": True,
            "note": None,
            "sizes": [4, 5],
            "nested": {"deep": [8]},
            "text": "a table for 4",
            "two": "4True",
            "note_text": "note: .",
        }
    ]
    assert reply.text == "For 4. Note: . Or: none given."
