"""The path proof: no state uses a slot that some way into it leaves empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import AuthoringErrors
from tests.helpers import compile_text

ROOT = Path(__file__).resolve().parent.parent

FLOW = """\
flow: booking
slots:
  size: {type: number}
  day: {type: date, future: true}
states:
  ask_size:
    say: How many?
    collect: [size]
    next:
      - {to: ask_day}
      - {to: check, intent: skip, examples: [skip it]}
  ask_day:
    say: What day?
    collect: [day]
    next: [{to: check}]
  check:
    say: "A table for {{ slots.size }} on {{ slots.day }}."
    end_call: true
"""


def errors(tmp_path: Path, text: str) -> list[str]:
    try:
        compile_text(tmp_path, text)
    except AuthoringErrors as exc:
        return [str(error) for error in exc.errors]
    return []


def test_a_slot_empty_on_some_way_in_is_reported_with_that_way(tmp_path):
    found = errors(tmp_path, FLOW)
    assert len(found) == 2
    size, day = found
    assert size.startswith(f"{tmp_path}/flows/flow.yaml:17: state 'check' uses slot 'size'")
    assert "empty on the way ask_size -> check" in size
    assert "slot 'day' (say), which is empty on the way ask_size -> check" in day
    assert "{% if slots.day %}" in day  # the hint says how to guard it


@pytest.mark.parametrize(
    "line",
    [
        "A table{% if slots.size %} for {{ slots.size }}{% endif %}.",
        "A table for {{ slots.size | default('you') }}.",
        "{{ slots.size and slots.size + 1 }} {{ 'x' if slots.size else 'y' }}",
        "{{ slots.day or 'soon' }}{% if not slots.size %}how many?{% endif %}",
    ],
)
def test_a_guarded_use_is_no_error(tmp_path, line):
    text = FLOW.replace('"A table for {{ slots.size }} on {{ slots.day }}."', repr(line))
    assert errors(tmp_path, text) == []


def test_every_way_in_fills_the_slot(tmp_path):
    text = FLOW.replace(
        "{to: check, intent: skip, examples: [skip it]}", "{to: ask_day, intent: skip}"
    )
    assert "ask_size -> ask_day -> check" in errors(tmp_path, text)[0]  # intent: size may be empty
    text = text.replace("{to: ask_day, intent: skip}", "{to: ask_day, when: slots.size}")
    assert errors(tmp_path, text) == []  # a guard that tests the value fills it


def test_a_cleared_slot_is_empty_again(tmp_path):
    text = FLOW.replace(
        "    next: [{to: check}]\n  check:",
        "    next: [{to: check}]\n  check:\n    actions: []",
    ).replace("{to: check, intent: skip, examples: [skip it]}", "{to: ask_day, intent: skip}")
    text = text.replace("    next: [{to: check}]", "    next: [{to: check, clear: [size]}]")
    assert any("slot 'size'" in e and "ask_day -> check" in e for e in errors(tmp_path, text))


def test_a_global_intent_reaches_its_state_from_anywhere(tmp_path):
    text = FLOW.replace(
        "{to: check, intent: skip, examples: [skip it]}", "{to: ask_day, intent: skip}"
    ).replace("{to: ask_day, intent: skip}", "{to: ask_day}") + (
        "global:\n  - {intent: hurry, examples: [hurry], to: check}\n"
    )
    assert "ask_size -> check" in errors(tmp_path, text)[0]


@pytest.mark.parametrize("name", ["clinic_intake", "booking"])
def test_the_example_flows_pass_the_proof(tmp_path, name):
    from engine.project import Project
    from engine.settings import Settings

    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )
    assert project.check_files([ROOT / "flows" / f"{name}.yaml"])[0].errors == []
