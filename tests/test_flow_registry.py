"""A broken flow file is that file's error only: other flows, commands and live servers go on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from engine.errors import AuthoringErrors
from engine.testing.platform import Dialog, PlatformCall
from tests.helpers import project, write_project

GREETER = """\
flow: {name}
begin: Hello from {name}.
states:
  hello:
    say: |-
      {say}
    end_call: true
"""


ASKING = """\
flow: {name}
begin: Hello from {name}.
slots:
  name: {{type: name}}
states:
  ask:
    say: Your name?
    collect: [name]
    next: [{{to: done}}]
  done:
    say: Bye, {{{{ slots.name }}}}.
    end_call: true
"""


def greeter(name: str, say: str = "Bye.") -> str:
    return GREETER.format(name=name, say=say)


def test_a_file_that_crashes_the_loader_is_only_its_own_error(tmp_path):
    deep = "flow: deep\nstates:\n  a: " + "[" * 3000 + "]" * 3000 + "\n"
    write_project(tmp_path, {"deep": deep, "fine": greeter("fine")})
    the_project = project(tmp_path)
    errors = the_project.load()
    (error,) = errors
    assert str(error).startswith(f"{tmp_path / 'flows' / 'deep.yaml'}: cannot load: RecursionError")
    assert the_project.flow_names() == ["fine"]


def test_open_flow_of_a_broken_flow_raises_authoring_errors(tmp_path):
    write_project(tmp_path, {"tiny": greeter("tiny", "{{ 'x' | shout }}")})
    try:
        project(tmp_path).open_flow("tiny")
    except AuthoringErrors as exc:
        (error,) = exc.errors
        assert str(error).startswith(f"{tmp_path / 'flows' / 'tiny.yaml'}:6: unknown filter")
    else:
        raise AssertionError("a broken flow opened")


def test_serve_does_not_start_with_a_template_error(tmp_path):
    write_project(tmp_path, {"tiny": greeter("tiny", "{{ 'x' | shout }}")})
    (error,) = project(tmp_path).setup_errors()
    assert error.startswith(f"{tmp_path / 'flows' / 'tiny.yaml'}:6: unknown filter 'shout'")


async def test_a_broken_edit_while_serving_keeps_the_last_good_version(
    no_llm, start_server, tmp_path
):
    write_project(tmp_path, {"a": greeter("a"), "b": greeter("b")})
    server = start_server(
        agent="flow", flows_dir=tmp_path / "flows", prompts_dir=tmp_path / "prompts", flow="a"
    )
    flow_a = tmp_path / "flows" / "a.yaml"
    for number, broken in enumerate(
        (
            greeter("a", "Your number is {{ slots.phone | digit }}."),  # unknown filter
            greeter("a", "{% include 'gone.j2' %}"),  # missing include
            greeter("a", "Bye.").replace("end_call: true", "end_call: true\n    next: [{to: "),
        )
    ):
        flow_a.write_text(broken)
        os.utime(flow_a, (1, 1))  # a change the registry notices even within one mtime tick
        async with PlatformCall.connect(server.url(f"call_a{number}", "a")) as call:
            greeting = await Dialog(call).start()
        assert greeting.text == "Hello from a."  # the last good version answers
        async with PlatformCall.connect(server.url(f"call_b{number}", "b")) as call:
            assert (await Dialog(call).start()).text == "Hello from b."
        async with httpx.AsyncClient() as http:
            ready = await http.get(server.http("/readyz"))
        assert ready.status_code == 200
        flows = {entry["flow"]: entry for entry in ready.json()["flows"]}
        assert flows["a"]["state"] == "degraded"
        assert flows["a"]["errors"][0]["file"] == str(flow_a)
        assert flows["b"]["state"] == "ok"
    flow_a.write_text(greeter("a").replace("Hello from a.", "Hello again from a."))
    os.utime(flow_a, (2, 2))
    async with PlatformCall.connect(server.url("call_after_the_fix", "a")) as call:
        assert (await Dialog(call).start()).text == "Hello again from a."


def test_chat_of_a_flow_works_while_another_is_broken(tmp_path):
    write_project(
        tmp_path, {"good": greeter("good"), "bad": greeter("bad", "{{ slots.phone | digit }}")}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIALPLAN_", "OPENAI_"))}
    chat = subprocess.run(
        [sys.executable, "-m", "engine.cli", "chat", "good", "--provider", "none"],
        cwd=tmp_path,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert chat.returncode == 0, chat.stderr
    assert "agent: Hello from good." in chat.stdout
    broken = subprocess.run(
        [sys.executable, "-m", "engine.cli", "chat", "bad", "--provider", "none"],
        cwd=tmp_path,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr
    assert f"{Path('flows') / 'bad.yaml'}:6: unknown filter 'digit'" in broken.stderr
    validate = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert validate.returncode == 1
    assert "Traceback" not in validate.stderr
    # The unknown filter and the unknown slot, both at once.
    assert "2 flow file(s) checked: 1 ok, 1 with errors (2 error(s))" in validate.stderr


def test_editing_an_included_file_reloads_the_flow(tmp_path):
    write_project(tmp_path, {"tiny": greeter("tiny", "{% include 'p.j2' %}")}, {"p.j2": "Bye."})
    the_project = project(tmp_path)
    first = the_project.open_flow("tiny")
    partial = tmp_path / "prompts" / "p.j2"
    partial.write_text("{{ 1 | nope }}")
    os.utime(partial, (1, 1))
    assert the_project.registry.get("tiny") is not None
    assert the_project.registry.get("tiny").version == first.version  # the last good one
    (errors,) = the_project.registry.broken().values()
    assert str(errors[0]).startswith(f"{partial}:1: unknown filter 'nope'")
    partial.write_text("Goodbye.")
    os.utime(partial, (2, 2))
    fixed = the_project.registry.get("tiny")
    assert fixed is not None and fixed.version != first.version
    assert the_project.registry.broken() == {}


async def test_a_flow_file_added_while_serving_takes_calls_and_a_removed_one_stops(
    no_llm, start_server, tmp_path, monkeypatch
):
    from websockets.exceptions import InvalidStatus

    from engine.flow import registry

    monkeypatch.setattr(registry, "RETRY_BROKEN", 0.0)  # retry a broken file on every look
    write_project(tmp_path, {"a": greeter("a")})
    server = start_server(
        agent="flow", flows_dir=tmp_path / "flows", prompts_dir=tmp_path / "prompts", flow="a"
    )

    async def refused(call_id: str, flow: str) -> int:
        with pytest.raises(InvalidStatus) as raised:
            async with PlatformCall.connect(server.url(call_id, flow)):
                pass
        return raised.value.response.status_code

    assert await refused("call_b0", "b") == 404
    flow_b = tmp_path / "flows" / "b.yaml"
    flow_b.write_text(greeter("b"), encoding="utf-8")
    async with PlatformCall.connect(server.url("call_b1", "b")) as call:
        assert (await Dialog(call).start()).text == "Hello from b."

    # A new flow written before its prompt: taken once the prompt is there.
    flow_c = tmp_path / "flows" / "c.yaml"
    flow_c.write_text("persona: c/persona.j2\n" + greeter("c"), encoding="utf-8")
    assert await refused("call_c0", "c") == 404
    (tmp_path / "prompts" / "c").mkdir(parents=True)
    (tmp_path / "prompts" / "c" / "persona.j2").write_text("Be kind.", encoding="utf-8")
    async with PlatformCall.connect(server.url("call_c1", "c")) as call:
        assert (await Dialog(call).start()).text == "Hello from c."

    # A removed file takes no new calls; a call already on it goes on with its version.
    flow_b.write_text(ASKING.format(name="b"), encoding="utf-8")
    os.utime(flow_b, (3, 3))
    async with PlatformCall.connect(server.url("call_b2", "b")) as live:
        dialog = Dialog(live)
        assert (await dialog.start()).text == "Hello from b."
        flow_b.unlink()
        assert await refused("call_b3", "b") == 404
        assert (await dialog.say("Dana Scully")).text == "Bye, Dana Scully."
    async with httpx.AsyncClient() as http:
        ready = (await http.get(server.http("/readyz"))).json()
    assert sorted(entry["flow"] for entry in ready["flows"]) == ["a", "c"]
