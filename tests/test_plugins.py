"""Plugins: a module's actions and slot types, installed per project, never globally."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from engine.errors import AuthoringErrors
from engine.flow import BaseSlotType, FlowRunner, Parsed, Plugin
from engine.flow.spec import SlotSpec
from tests.helpers import bare_environment, project, write_project

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
        "named 'no_such_plugin' (a plugin is a module in the project folder "
        "(myproject/actions.py is myproject.actions) or in an installed package)"
    ]
    fine = project(tmp_path, plugins=("tests.test_plugins",))
    assert "colour" in fine.extensions.slot_types
    assert fine.extensions.modules == ["tests.test_plugins"]


# -- a project's own actions, found by every command -------------------------------------------

ACTIONS = """\
from pathlib import Path

from engine import Plugin

plugin = Plugin()


@plugin.action("shop.note")
def note(name: str) -> dict[str, object]:
    Path("noted.txt").write_text(name, encoding="utf-8")
    return {"noted": True}
"""


def test_a_new_projects_own_actions_load_in_every_command_without_pythonpath(tmp_path):
    # The `dialplan` script, unlike `python -m`, does not put the working folder on the path.
    dialplan = Path(sys.executable).parent / "dialplan"
    environment = bare_environment()
    environment.pop("PYTHONPATH", None)
    environment["DIALPLAN_DATABASE_URL"] = os.environ["DIALPLAN_DATABASE_URL"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(dialplan), *args],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("new", "shop").returncode == 0
    (tmp_path / "myproject").mkdir()
    (tmp_path / "myproject" / "actions.py").write_text(ACTIONS, encoding="utf-8")
    flow = tmp_path / "flows" / "shop.yaml"
    text = flow.read_text(encoding="utf-8")
    text = text.replace("\nslots:\n", "\nplugins: [myproject.actions]\n\nslots:\n")
    text = text.replace(
        "  goodbye:\n",
        "  goodbye:\n    actions:\n      - call: shop.note\n"
        '        args: {name: "{{ slots.full_name }}"}\n',
    )
    flow.write_text(text, encoding="utf-8")

    validate = run("validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    graph = run("graph", "shop")
    assert graph.returncode == 0 and "stateDiagram" in graph.stdout, graph.stderr
    script = tmp_path / "caller.txt"
    script.write_text("My name is Dana Scully\nyes\n", encoding="utf-8")
    chat = run("chat", "shop", "--script", str(script), "--live-actions")
    assert chat.returncode == 0, chat.stdout + chat.stderr
    assert (tmp_path / "noted.txt").read_text(encoding="utf-8") == "Dana Scully"
    tests = run("test")
    assert tests.returncode == 0, tests.stdout + tests.stderr
