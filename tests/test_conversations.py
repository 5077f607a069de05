"""Conversation tests for flow authors: the file format, the pytest plugin and the commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.flows import validate
from engine.cli.new import new
from engine.errors import AuthoringErrors
from engine.examples import booking
from engine.flow import safe_yaml as _yaml
from engine.testing.conversation_spec import load_conversations
from engine.testing.expectations import same_value
from tests.helpers import EXAMPLE

pytest_plugins = ["pytester"]

ROOT = EXAMPLE  # not flows/: editing an example flow must not move these tests


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project folder with the example flows and prompts, run in this process."""
    shutil.copytree(ROOT / "flows", pytester.path / "flows")
    shutil.copytree(ROOT / "prompts", pytester.path / "prompts")
    (pytester.path / "tests" / "conversations").mkdir(parents=True)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    # The example backend keeps its table book per process: start with an empty one.
    monkeypatch.setattr(booking, "BOOK", booking.Book())
    for name in ("DIALPLAN_FLOWS_DIR", "DIALPLAN_PROMPTS_DIR", "DIALPLAN_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def conversation(pytester: pytest.Pytester, name: str, text: str) -> Path:
    path = pytester.path / "tests" / "conversations" / name
    path.write_text(text, encoding="utf-8")
    return path


def cli_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DIALPLAN_", "PYTEST_"))
    }


# -- the plugin --------------------------------------------------------------------------


def test_plugin_collects_and_passes_the_example_conversations(project: pytest.Pytester) -> None:
    for name in ("clinic_intake.yaml", "booking.yaml"):
        shutil.copy(ROOT / "tests" / "conversations" / name, project.path / "tests/conversations")
    (project.path / "flows" / "notes.yaml").write_text("not: a conversation file\n")
    result = project.runpytest("-p", "no:cacheprovider", "--dialplan-coverage", "-v")
    examples = [
        ROOT / "tests" / "conversations" / n for n in ("clinic_intake.yaml", "booking.yaml")
    ]
    expected = sum(len(_yaml.load(p.read_text())["tests"]) for p in examples)
    result.assert_outcomes(passed=expected)
    result.stdout.fnmatch_lines(
        [
            "*booking.yaml::the model settles a time our parsers cannot PASSED*",
            "*clinic_intake.yaml::happy path PASSED*",
        ]
    )
    saved = json.loads((project.path / ".dialplan-coverage.json").read_text())
    assert {"ask_name", "which_fix", "front_desk"} <= set(saved["clinic_intake"]["states"])
    assert ["confirm", "which_fix"] in saved["clinic_intake"]["edges"]
    assert "human" in saved["booking"]["intents"]


def test_a_failing_conversation_shows_transcript_path_and_slots(project: pytest.Pytester) -> None:
    conversation(
        project,
        "clinic.yaml",
        """\
flow: clinic_intake
today: 2026-11-25
tests:
  - name: wrong turn
    turns:
      - caller: My name is Dana Scully
      - caller: March 3rd 1980
        expect: {state: confirm, says: read that back, slots: {date_of_birth: 1980-03-04}}
      - caller: never reached
""",
    )
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "turn 2: state: expected 'confirm', but the call is in 'ask_reason'",
            "turn 2: says: expected the agent to say 'read that back' on this turn, but it said:"
            " 'And what is the reason for your visit?'",
            'turn 2: slots.date_of_birth: expected "1980-03-04", got "1980-03-03"',
            "  at */tests/conversations/clinic.yaml:7, in conversation 'wrong turn'",
            "transcript:",
            "    agent:  Thanks for calling the clinic.*",
            "    caller: My name is Dana Scully",
            "    agent:  Thanks, Dana. What is your date of birth?",
            "  > caller: March 3rd 1980",
            "  > agent:  And what is the reason for your visit?",
            "path:  ask_name -> ask_dob -> ask_reason",
            'slots: {"date_of_birth":"1980-03-03","full_name":"Dana Scully"}',
        ]
    )
    assert "never reached" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_the_model_is_scripted_per_turn_and_unscripted_calls_fail(
    project: pytest.Pytester,
) -> None:
    conversation(
        project,
        "model.yaml",
        """\
flow: clinic_intake
today: 2026-11-25
tests:
  - name: scripted
    turns:
      - caller: My name is Dana Scully
        expect: {model_called: false}
      - caller: the third day of the third month of nineteen eighty
        model:
          tool_calls: [{name: record_answer, arguments: {date_of_birth: "1980-03-03"}}]
        expect: {state: ask_reason, says: reason for your visit, model_called: true}
  - name: unscripted
    turns:
      - caller: My name is Dana Scully
      - caller: I'd rather not say
        model: {text: "Okay. "}
      - caller: ugh, whatever
  - name: scripted but not asked
    turns:
      - caller: My name is Dana Scully
        model: {text: "Okay. "}
""",
    )
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "turn 3: the model was asked on turn 3 but the test scripts no reply*",
            "  > agent:  (says nothing)   ?model asked, failed: LLMError: *HTTP 500?",
            "turn 1: turn 1 scripts 1 model reply but the model was asked 0 times*",
        ]
    )


def test_a_malformed_conversation_file_reports_file_and_line(project: pytest.Pytester) -> None:
    conversation(
        project,
        "broken.yaml",
        """\
flow: clinic_intake
tests:
  - name: typo
    turns:
      - caller: hi
        expect: {sayz: hello}
      - caller: 5:30
""",
    )
    (project.path / "tests" / "other.yaml").write_text("flow: [unrelated yaml]\n")
    result = project.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*/broken.yaml:6: tests.0.turns.0.expect.sayz: unknown key (did you mean 'says'?)",
            "*/broken.yaml:7: tests.0.turns.1.caller: Input should be a valid string"
            " (YAML read this as int; put it in quotes)",
        ]
    )
    assert "other.yaml" not in result.stdout.str()  # only tests/conversations is collected


def test_names_the_flow_does_not_have_are_reported_with_lines(project: pytest.Pytester) -> None:
    conversation(
        project,
        "names.yaml",
        """\
flow: clinic_intake
tests:
  - name: names
    turns:
      - caller: hi
        model: {tool_calls: [{name: set_dob, arguments: {value: x}}]}
        expect: {state: ask_db, slots: {fullname: x}}
""",
    )
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*/names.yaml:6: model tool 'set_dob' is not in flow 'clinic_intake'*",
            "*/names.yaml:7: state 'ask_db' is not in flow 'clinic_intake'"
            " (did you mean 'ask_dob'?)",
            "*/names.yaml:7: slot 'fullname' is not in flow *(did you mean 'full_name'?)",
        ]
    )


# -- the file format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tests: []\n", "{f}:1: flow: required key is missing"),
        (
            "flow: x\ntests:\n  - name: a\n    turns:\n      - {caller: hi, silence: true}\n",
            "{f}:5: tests.0.turns.0: a turn has exactly one of `agent`, `caller` and `silence`",
        ),
        (
            "flow: x\ntests:\n  - name: a\n    turns: [{caller: hi}]\n"
            "  - name: a\n    turns: [{caller: hi}]\n",
            "{f}:5: tests.1.name: a second test named 'a' (the first is test 1;"
            " test names must differ)",
        ),
        (
            "flow: x\ntests:\n  - name: a\n    turns:\n      - caller: hi\n"
            "      - agent: {says: hi}\n",
            "{f}:6: tests.0.turns.1.agent: only the first turn can be `agent`"
            " (it holds expectations on the greeting; later lines go in `expect`)",
        ),
        (
            "flow: x\ntests:\n  - name: a\n    turns:\n      - caller: hi\n"
            "        expect: {says_regex: '('}\n",
            "{f}:6: tests.0.turns.0.expect.says_regex: not a regular expression:"
            " missing ), unterminated subpattern at position 0",
        ),
        ("flow: x\ntests:\n  - name: a\n  turns: []\n", "{f}:4: *"),
    ],
)
def test_file_mistakes(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(AuthoringErrors) as caught:
        load_conversations(path)
    pattern = re.escape(message.format(f=path)).replace(r"\*", ".*")
    assert any(re.fullmatch(pattern, str(e)) for e in caught.value.errors), caught.value


def test_slot_values_compare_as_written_in_yaml() -> None:
    assert same_value(date(1980, 3, 3), "1980-03-03")
    assert same_value(18 * 60 + 30, "18:30")  # YAML 1.1 reads an unquoted 18:30 as 1110
    assert same_value("18:30", "18:30")
    assert same_value(4, 4) and same_value(["18:30"], ["18:30"])
    assert not same_value(1110, "18:31")
    assert not same_value(date(1980, 3, 3), "1980-03-04")


# -- the commands ------------------------------------------------------------------------


def test_new_creates_a_flow_that_validates_and_whose_tests_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    created = runner.invoke(new, ["demo", "--dir", str(tmp_path)])
    assert created.exit_code == 0, created.output
    flow = tmp_path / "flows" / "demo.yaml"
    # Outside dialplan's own tree, editors find the schema written next to the flow.
    assert flow.read_text().startswith("# yaml-language-server: $schema=flow.schema.json\n")
    schema = json.loads((tmp_path / "flows" / "flow.schema.json").read_text())
    assert schema["title"] == "dialplan flow"
    assert (tmp_path / "prompts" / "demo" / "persona.j2").is_file()

    again = runner.invoke(new, ["demo", "--dir", str(tmp_path)])
    assert again.exit_code == 1 and "not overwriting" in again.output
    bad = runner.invoke(new, ["9lives", "--dir", str(tmp_path)])
    assert bad.exit_code == 1 and "not a valid flow name" in bad.output

    monkeypatch.chdir(tmp_path)
    checked = runner.invoke(validate, ["flows/demo.yaml"])
    assert checked.exit_code == 0, checked.output
    tested = subprocess.run(
        [sys.executable, "-m", "engine.cli", "test", "tests/conversations/demo.yaml"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout
    # A project with no pytest configuration of its own: not one warning (pytest-asyncio's
    # fixture loop scope is set by the runner), and none hidden either.
    output = tested.stdout + tested.stderr
    assert "Warning" not in output, output
    assert "asyncio_default_fixture_loop_scope=function" in tested.stdout
    assert "warnings summary" not in tested.stdout


def test_coverage_lists_what_no_test_exercised(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    tests = tmp_path / "tests" / "conversations"
    tests.mkdir(parents=True)
    (tests / "clinic.yaml").write_text(
        """\
flow: clinic_intake
today: 2026-11-25
tests:
  - name: happy path only
    turns:
      - caller: My name is Dana Scully
      - caller: sorry, can you say that again?
      - caller: March 3rd 1980
      - caller: flu
      - caller: yes
        expect: {ended: true}
"""
    )
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "test", "--coverage", "--diagram", "cov"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "1 passed" in out
    assert "flow clinic_intake (flows/clinic_intake.yaml):" in out
    for row in (
        r"state\s+front_desk",
        r"state\s+which_fix",
        r"transition\s+confirm\s+which_fix\s+intent correct",
        r"transition\s+ask_name\s+front_desk\s+on_give_up",
        r"transition\s+\(any state\)\s+front_desk\s+global intent human",
    ):
        assert re.search(row, out), (row, out)
    assert not re.search(r"state\s+confirm\b", out)  # the happy path went through it
    assert "global intent repeat" not in out  # taken, although it stays in place
    assert re.search(r"transition\s+\(any state\)\s+repeat_help\s+global intent help", out)
    assert "states 5/8, transitions 5/17: 40% covered" in out
    assert "flows with no conversation tests: booking" in out
    assert (tmp_path / ".dialplan-coverage.json").is_file()
    assert "wrote cov/clinic_intake.coverage.mmd" in out
    diagram = (tmp_path / "cov" / "clinic_intake.coverage.mmd").read_text()
    assert "stateDiagram-v2" in diagram and "which_fix" in diagram
    assert "any_state --> any_state: intent repeat (stays)\n" in diagram  # taken: not greyed
    assert not list(tmp_path.glob("*.mmd"))  # nothing written where it was not asked
