"""Every authoring check, one broken flow each, with the exact message it must give."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import AuthoringErrors
from engine.flow import Extensions, load_flow
from engine.templates import make_environment

VALID = """\
flow: tiny
slots:
  name: {type: name}
states:
  ask:
    say: What is your name?
    collect: [name]
    next:
      - to: bye
        when: slots.name
  bye:
    say: Bye {{ slots.name }}!
    end_call: true
"""

# (id, flow text, expected messages; "{f}" is the flow file's path)
BROKEN = [
    (
        "unknown key, with a suggestion",
        VALID.replace("    say: What", "    sya: What"),
        ["{f}:6: states.ask.sya: unknown key (did you mean 'say'?)"],
    ),
    (
        "duplicate key",
        VALID.replace("    collect: [name]\n", "    collect: [name]\n    collect: [name]\n"),
        ["{f}:8: duplicate key 'collect' (first on line 7)"],
    ),
    (
        "missing states",
        "flow: tiny\n",
        ["{f}:1: states: required key is missing"],
    ),
    (
        "unknown target state",
        VALID.replace("- to: bye", "- to: byee"),
        ["{f}:9: unknown state 'byee' (did you mean 'bye'?)"],
    ),
    (
        "unreachable state",
        VALID + "  lost:\n    say: Nobody comes here.\n    end_call: true\n",
        [
            "{f}:14: state 'lost' is never reached "
            "(no transition, give-up or global intent leads to it)"
        ],
    ),
    (
        "no way out",
        VALID.replace("    end_call: true\n", ""),
        [
            "{f}:11: state 'bye' has no way out "
            "(add `next`, or end it with `end_call: true`, `transfer` or `press_digit`)"
        ],
    ),
    (
        "unknown slot collected",
        VALID.replace("collect: [name]", "collect: [nmae]"),
        ["{f}:7: state 'ask' collects unknown slot 'nmae' (did you mean 'name'?)"],
    ),
    (
        "unknown slot in a spoken line",
        VALID.replace("Bye {{ slots.name }}", "Bye {{ slots.nam }}"),
        ["{f}:12: unknown slot 'nam' (did you mean 'name'?)"],
    ),
    (
        "unknown variable in a line",
        VALID.replace("Bye {{ slots.name }}", "Bye {{ caller }}"),
        ["{f}:12: unknown variable 'caller' (templates see call, flow, slots, state)"],
    ),
    (
        "template syntax",
        VALID.replace("Bye {{ slots.name }}", "Bye {{ slots.name }"),
        ["{f}:12: template syntax: unexpected '}'"],
    ),
    (
        "guard syntax",
        VALID.replace("when: slots.name", "when: slots.name ==="),
        ["{f}:10: expression syntax: unexpected '='"],
    ),
    (
        "missing template file",
        VALID.replace("    say: What is your name?", "    prompt: tiny/ask.j2"),
        ["{f}:6: template file 'tiny/ask.j2' not found (looked in {p})"],
    ),
    (
        "unknown action",
        VALID.replace("    say: What", "    actions: [{call: lookup}]\n    say: What"),
        [
            "{f}:6: unknown action 'lookup' "
            "(offer it with @plugin.action(...) in a module the flow lists under `plugins:`)"
        ],
    ),
    (
        "enum without values",
        VALID.replace("{type: name}", "{type: enum}"),
        ["{f}:3: slots.name: an enum slot needs `values`"],
    ),
    (
        "identifier pattern that is no regular expression",
        VALID.replace("{type: name}", '{type: identifier, pattern: "[A-Z{3"}'),
        [
            "{f}:3: slots.name.pattern: `pattern` is not a valid regular expression: "
            "unterminated character set at position 0"
        ],
    ),
    (
        "identifier length the wrong way round",
        VALID.replace("{type: name}", "{type: identifier, length: [8, 6]}"),
        [
            "{f}:3: slots.name.length: `length` is a number of characters (at least 1), "
            "or [fewest, most]"
        ],
    ),
    (
        "length for another type",
        VALID.replace("{type: name}", "{type: name, length: 7}"),
        ["{f}:3: slots.name: `length` only goes with `type: identifier`"],
    ),
    (
        "say and prompt together",
        VALID.replace("    say: What is your name?", "    say: Hi\n    prompt: x.j2"),
        ["{f}:5: states.ask: a state has `say` or `prompt`, not both"],
    ),
    (
        "bad slot type",
        VALID.replace("{type: name}", "{type: nmae}"),
        ["{f}:3: slot 'name' has unknown type 'nmae' (did you mean 'name'?)"],
    ),
    (
        "plugin that is not there",
        "plugins: [no_such_module]\n" + VALID,
        [
            "{f}:1: cannot import plugin 'no_such_module': ModuleNotFoundError: No module named "
            "'no_such_module' (a plugin is a module in the project folder (myproject/actions.py "
            "is myproject.actions) or in an installed package)"
        ],
    ),
    (
        "module without a plugin",
        "plugins: [json]\n" + VALID,
        [
            "{f}:1: module 'json' has no plugin (define `plugin = Plugin()` in it and register "
            "with @plugin.action(...))"
        ],
    ),
    (
        "not a mapping",
        "- just\n- a list\n",
        ["{f}:1: a flow file is a mapping with `flow:` and `states:`"],
    ),
    (
        "several errors at once",
        VALID.replace("- to: bye", "- to: nowhere").replace("{{ slots.name }}", "{{ slots.x }}"),
        [
            "{f}:9: unknown state 'nowhere'",
            "{f}:12: unknown slot 'x' (declare it under `slots:`)",
        ],
    ),
]


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    flow = tmp_path / "tiny.yaml"
    flow.write_text(text)
    prompts = tmp_path / "prompts"
    prompts.mkdir(exist_ok=True)
    return flow, prompts, load_flow(flow, make_environment(prompts), Extensions())


def test_the_valid_flow_loads(tmp_path):
    _, _, loaded = load(tmp_path, VALID)
    assert loaded.spec.start_state == "ask"


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_flow_says_where_and_why(tmp_path, text, expected):
    flow = tmp_path / "tiny.yaml"
    with pytest.raises(AuthoringErrors) as raised:
        load(tmp_path, text)
    messages = [str(error) for error in raised.value.errors]
    prompts = str(tmp_path / "prompts")
    assert messages == [m.replace("{f}", str(flow)).replace("{p}", prompts) for m in expected]


def test_yes_and_no_stay_words(tmp_path):
    text = VALID.replace(
        "        when: slots.name\n",
        "        when: slots.name\n"
        "      - {to: ask, intent: agree, examples: [yes, on, off, no]}\n",
    )
    _, _, loaded = load(tmp_path, text)
    assert loaded.spec.states["ask"].next[1].examples == ("yes", "on", "off", "no")


def test_prompt_file_errors_point_into_the_template(tmp_path):
    flow, prompts, _ = load(tmp_path, VALID)
    (prompts / "ask.j2").write_text("Ask for the name.\nKnown: {{ slots.nmae }}\n")
    flow.write_text(VALID.replace("    say: What is your name?", "    prompt: ask.j2"))
    with pytest.raises(AuthoringErrors) as raised:
        load_flow(flow, make_environment(prompts), Extensions())
    assert [str(e) for e in raised.value.errors] == [
        f"{prompts / 'ask.j2'}:2: unknown slot 'nmae' (did you mean 'name'?)"
    ]


def test_validate_command_fails_with_lines(tmp_path):
    flow, _, _ = load(tmp_path, VALID)
    flow.write_text(VALID.replace("- to: bye", "- to: byee"))
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(flow)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{flow}:9: unknown state 'byee'" in result.stdout
    assert "1 with errors (1 error(s))" in result.stderr


# -- every error of a file in one run, and hints for YAML's traps ---------------------------


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(AuthoringErrors) as raised:
        load(tmp_path, text)
    return [str(error).replace(str(tmp_path / "tiny.yaml"), "{f}") for error in raised.value.errors]


def test_schema_graph_and_template_errors_come_together_sorted_by_line(tmp_path):
    text = (
        VALID.replace("    say: What", "    sya: What").replace(
            "Bye {{ slots.name }}", "Bye {{ slots.name | shout }}"
        )
        + "  lost:\n    say: Nobody comes here.\n    end_call: true\n"
    )
    errors = errors_of(tmp_path, text)
    assert errors[0] == "{f}:6: states.ask.sya: unknown key (did you mean 'say'?)"
    assert errors[1].startswith("{f}:12: unknown filter 'shout'")
    assert errors[2].startswith("{f}:14: state 'lost' is never reached")
    assert len(errors) == 3


def test_a_state_with_schema_errors_keeps_its_good_parts_checked(tmp_path):
    # `retries: many` is wrong; its `next` still leads to `bye`, and its good `say` is checked.
    text = VALID.replace(
        "    collect: [name]\n", "    collect: [name]\n    retries: many\n"
    ).replace("What is your name?", "What is your {{ slots.nmae }}?")
    errors = errors_of(tmp_path, text)
    assert errors == [
        "{f}:6: unknown slot 'nmae' (did you mean 'name'?)",
        "{f}:8: states.ask.retries: Input should be a valid integer, unable to parse string as "
        "an integer",
    ]


def test_a_bad_transition_does_not_hide_the_rest(tmp_path):
    text = VALID.replace("      - to: bye\n", "      - to: bye\n        wen: x\n") + (
        "  lost:\n    say: Nobody comes here.\n    end_call: true\n"
    )
    errors = errors_of(tmp_path, text)
    assert errors[0] == "{f}:10: states.ask.next.0.wen: unknown key (did you mean 'when'?)"
    assert errors[1].startswith("{f}:15: state 'lost' is never reached")


def test_an_unquoted_phone_number_says_quote_it(tmp_path):
    text = VALID.replace("    end_call: true\n", "    transfer: +14155550142\n")
    assert errors_of(tmp_path, text) == [
        "{f}:13: states.bye.transfer: Input should be a valid string "
        '(YAML reads +14155550142 as a number; quote it: "+14155550142")'
    ]


def test_a_colon_in_plain_text_is_explained(tmp_path):
    text = VALID.replace("What is your name?", "Note: what is your name?")
    assert errors_of(tmp_path, text) == [
        "{f}:6: a colon followed by a space inside plain text starts a new key "
        '(put the text in quotes ("...") or in a block: `say: >-` with the text on the next lines)'
    ]


def test_a_tab_says_yaml_indents_with_spaces(tmp_path):
    text = VALID.replace("    collect: [name]", "\tcollect: [name]")
    errors = errors_of(tmp_path, text)
    assert errors[0].startswith("{f}:7: a tab in the indentation")
    assert errors[0].endswith("(YAML indents with spaces, not tabs)")


def test_a_hash_in_plain_text_is_a_warning_and_the_flow_loads(tmp_path):
    _, _, loaded = load(
        tmp_path, VALID.replace("What is your name?", "What is your name? #1 question")
    )
    assert loaded.spec.states["ask"].say == "What is your name?"
    (warning,) = loaded.warnings
    assert str(warning).replace(str(tmp_path / "tiny.yaml"), "{f}") == (
        "{f}:6: warning: `say` ends before ' #1 question': YAML reads ' #' as the start of a "
        "comment (put the whole text in quotes if the # belongs to it)"
    )


def test_validate_prints_warnings_and_passes(tmp_path):
    flow, _, _ = load(tmp_path, VALID.replace("What is your name?", "Your name? # ask once"))
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(flow), "--prompts-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{flow}:6: warning: `say` ends before ' # ask once'" in result.stdout
    assert "1 ok, 0 with errors (0 error(s), 1 warning(s))" in result.stderr


def test_validate_warns_about_model_states_without_a_model(tmp_path, no_llm):
    flow, prompts, _ = load(tmp_path, VALID)
    (prompts / "ask.j2").write_text("Ask for the name.")
    flow.write_text(VALID.replace("    say: What is your name?", "    prompt: ask.j2"))
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(flow), "--prompts-dir", str(prompts)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DIALPLAN_LLM_PROVIDER": "auto"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{flow}:6: warning: states ask have the model speak, and no model is configured" in (
        result.stdout
    )
    # The advice works: a `reask` line (a state has `say` or `prompt`, not both) validates.
    assert (
        "(give ask a `reask` line, what such a state says without a model (without one it says "
        '"Sorry, I can\'t help with that on this line."), or configure a model '
        "(OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_*))"
    ) in result.stdout
    assert "`say` line" not in result.stdout
    flow.write_text(
        VALID.replace("    say: What is your name?", "    prompt: ask.j2\n    reask: Your name?")
    )
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(flow), "--prompts-dir", str(prompts)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DIALPLAN_LLM_PROVIDER": "auto"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(configure a model (OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_*) to have " in (
        result.stdout
    )
