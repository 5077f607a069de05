"""Plugins: a module's actions and slot types, installed per project, never globally."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.errors import AuthoringErrors
from engine.flow import BaseSlotType, FlowRunner, Parsed, Plugin
from engine.flow.spec import SlotSpec
from tests.helpers import project, write_project

COLOURS = """\
flow: paint
plugins: [{module}]
slots:
  colour: {{type: colour}}
states:
  ask:
    say: Which colour?
    collect: [colour]
    next: [{{to: done}}]
  done:
    say: "{{{{ slots.colour }}}} it is."
    end_call: true
"""


class Colour(BaseSlotType):
    name = "colour"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        for colour in ("red", "green", "blue"):
            if colour in said.lower():
                return Parsed(True, colour)
        return None


plugin = Plugin()
plugin.slot_type(Colour())


async def test_a_slot_type_a_plugin_registers_is_accepted_and_understood(tmp_path):
    write_project(tmp_path, {"paint": COLOURS.format(module="tests.test_plugins")})
    runner = FlowRunner(project(tmp_path).open_flow("paint"))
    runner.start()
    reply = await runner.say("Blue, please")
    assert reply.text == "blue it is."


def test_without_its_plugin_the_type_is_unknown(tmp_path: Path):
    write_project(tmp_path, {"paint": COLOURS.format(module="x").replace("plugins: [x]\n", "")})
    with pytest.raises(AuthoringErrors) as raised:
        project(tmp_path).open_flow("paint")
    assert [str(e) for e in raised.value.errors] == [
        f"{tmp_path / 'flows' / 'paint.yaml'}:3: slot 'colour' has unknown type 'colour' "
        "(known types: date, email, enum, identifier, name, number, phone, text, time, yes_no; "
        "a plugin can add more)"
    ]


def test_two_projects_do_not_share_registries(tmp_path):
    mine = project(tmp_path / "mine")
    theirs = project(tmp_path / "theirs")
    extra = Plugin()

    @extra.action("crm.lookup")
    def lookup() -> None:
        return None

    mine.extensions.install(extra)
    assert "crm.lookup" in mine.extensions.actions
    assert "crm.lookup" not in theirs.extensions.actions


def test_plugins_of_the_settings_are_loaded_once_and_reported(tmp_path):
    write_project(tmp_path, {})
    broken = project(tmp_path, plugins=("no_such_plugin",))
    assert [str(e) for e in broken.load()] == [
        "DIALPLAN_PLUGINS: cannot import plugin 'no_such_plugin': ModuleNotFoundError: No module "
        "named 'no_such_plugin' (a plugin is a module on the Python path (pip install -e . puts "
        "a project's own package there))"
    ]
    fine = project(tmp_path, plugins=("tests.test_plugins",))
    assert "colour" in fine.extensions.slot_types
    assert fine.extensions.modules == ["tests.test_plugins"]
