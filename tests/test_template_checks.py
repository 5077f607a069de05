"""Every template problem is an authoring error at the line of the mistake, found before a call."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import AuthoringErrors
from tests.helpers import project, write_project

FLOW = """\
flow: tiny
slots:
  phone: {{type: phone}}
states:
  ask:
{ask}
    collect: [phone]
    next:
      - to: done
  done:
    say: Bye.
    end_call: true
"""


def errors_of(root: Path, ask: str, prompts: dict[str, str] | None = None) -> list[str]:
    write_project(root, {"tiny": FLOW.format(ask=ask)}, prompts)
    with pytest.raises(AuthoringErrors) as raised:
        project(root).open_flow(root / "flows" / "tiny.yaml")
    return [str(error) for error in raised.value.errors]


def at(root: Path, line: int, message: str) -> str:
    return f"{root / 'flows' / 'tiny.yaml'}:{line}: {message}"


def looked(root: Path) -> str:
    return f"looked in {root / 'prompts'}"


def test_unknown_filter_in_a_line(tmp_path):
    errors = errors_of(tmp_path, "    say: Your number is {{ slots.phone | digit }}.")
    assert errors == [at(tmp_path, 6, "unknown filter 'digit' (did you mean 'digits'?)")]


def test_unknown_filter_in_a_folded_block_points_at_its_line(tmp_path):
    ask = "    say: >-\n      What is your number?\n      I have {{ slots.phone | digit }}."
    errors = errors_of(tmp_path, ask)
    assert errors == [at(tmp_path, 8, "unknown filter 'digit' (did you mean 'digits'?)")]


def test_syntax_error_in_a_literal_block_points_at_its_line(tmp_path):
    ask = "    say: |\n      What is your number?\n      Please.\n      I have {{ slots.phone }."
    assert errors_of(tmp_path, ask) == [at(tmp_path, 9, "template syntax: unexpected '}'")]


def test_unknown_slot_in_a_folded_block_points_at_its_line(tmp_path):
    ask = "    say: >\n      Hello.\n      I have {{ slots.phnoe }}."
    errors = errors_of(tmp_path, ask)
    assert errors == [at(tmp_path, 8, "unknown slot 'phnoe' (did you mean 'phone'?)")]


def test_unknown_test_in_a_guard(tmp_path):
    write_project(
        tmp_path,
        {
            "tiny": FLOW.format(ask="    say: Number?").replace(
                "- to: done", "- {to: done, when: slots.phone is phonish}"
            )
        },
    )
    with pytest.raises(AuthoringErrors) as raised:
        project(tmp_path).open_flow(tmp_path / "flows" / "tiny.yaml")
    (error,) = raised.value.errors
    assert str(error).startswith(at(tmp_path, 9, "unknown test 'phonish' (known tests include"))


def test_unknown_filter_in_a_store_expression(tmp_path):
    ask = (
        "    say: Number?\n"
        "    actions:\n"
        "      - webhook: {url: 'http://127.0.0.1:9/x'}\n"
        "        store: {phone: result.phone | phonify}"
    )
    (error,) = errors_of(tmp_path, ask)
    assert error.startswith(at(tmp_path, 9, "unknown filter 'phonify' (known filters include"))


def test_unknown_filter_in_a_prompt_file_names_the_file(tmp_path):
    errors = errors_of(
        tmp_path,
        "    prompt: ask.j2",
        {"ask.j2": "Ask for the number.\nThey said {{ slots.phone | shout }}.\n"},
    )
    assert errors == [
        f"{tmp_path / 'prompts' / 'ask.j2'}:2: unknown filter 'shout' (did you mean 'sort'?)"
    ]


def test_missing_include_in_a_line(tmp_path):
    ask = '    say: |\n      Number?\n      {% include "partials/nope.j2" %}'
    assert errors_of(tmp_path, ask) == [
        at(
            tmp_path,
            8,
            f"template file 'partials/nope.j2' not found (looked in {tmp_path / 'prompts'})",
        )
    ]


def test_an_include_that_may_be_missing_is_fine(tmp_path):
    write_project(
        tmp_path, {"tiny": FLOW.format(ask="    say: \"{% include 'x.j2' ignore missing %}Hi\"")}
    )
    assert project(tmp_path).open_flow(tmp_path / "flows" / "tiny.yaml").name == "tiny"


def test_missing_include_inside_an_included_file(tmp_path):
    errors = errors_of(
        tmp_path,
        "    prompt: ask.j2",
        {
            "ask.j2": 'Ask.\n{% include "partials/style.j2" %}\n',
            "partials/style.j2": 'Be brief.\n\n{% include "partials/gone.j2" %}\n',
        },
    )
    assert errors == [
        f"{tmp_path / 'prompts' / 'partials' / 'style.j2'}:3: template file 'partials/gone.j2' "
        f"not found (looked in {tmp_path / 'prompts'})"
    ]


def test_syntax_error_in_an_included_file(tmp_path):
    errors = errors_of(
        tmp_path,
        "    say: \"{% include 'partials/style.j2' %}Number?\"",
        {"partials/style.j2": "Be brief.\n{% if %}\n"},
    )
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{tmp_path / 'prompts' / 'partials' / 'style.j2'}:2: template syntax:"
    )


def test_missing_import_and_missing_macro(tmp_path):
    macros = {"partials/m.j2": "{% macro greet(name) %}Hi {{ name }}{% endmacro %}\n"}
    ask = (
        "    say: \"{% from 'partials/m.j2' import greeet %}{{ greeet('you') }}\"\n"
        "    reask: \"{% import 'partials/n.j2' as n %}{{ n.x() }}\"\n"
        "    reminder: \"{% import 'partials/m.j2' as m %}{{ m.hello() }}\""
    )
    assert errors_of(tmp_path, ask, macros) == [
        at(tmp_path, 6, "'partials/m.j2' defines no macro 'greeet' (did you mean 'greet'?)"),
        at(
            tmp_path,
            7,
            f"template file 'partials/n.j2' not found (looked in {tmp_path / 'prompts'})",
        ),
        at(tmp_path, 8, "'partials/m.j2' defines no macro 'hello' (it defines: greet)"),
    ]


def test_includes_and_imports_that_exist_load(tmp_path):
    prompts = {
        "partials/m.j2": "{% macro greet(name) %}Hi {{ name }}{% endmacro %}\n",
        "partials/style.j2": "Be brief.\n",
        "ask.j2": '{% include "partials/style.j2" %}\n'
        '{% import "partials/m.j2" as m %}{{ m.greet("x") }}\n',
    }
    write_project(tmp_path, {"tiny": FLOW.format(ask="    prompt: ask.j2")}, prompts)
    assert project(tmp_path).open_flow(tmp_path / "flows" / "tiny.yaml").name == "tiny"


def test_every_template_error_of_a_file_in_one_run(tmp_path):
    ask = (
        "    say: Your number is {{ slots.phone | digit }}.\n"
        "    reask: \"{% include 'nope.j2' %}\"\n"
        "    reminder: Still there, {{ caller }}?"
    )
    errors = errors_of(tmp_path, ask)
    assert [e.split(": ", 1)[0].rsplit(":", 1)[1] for e in errors] == ["6", "7", "8"]


# -- every branch, every file, every problem ---------------------------------------------------


def test_unknown_filter_inside_an_if_in_a_line(tmp_path):
    # Jinja defers a filter inside a branch to render time: the call taking the branch fails.
    ask = (
        "    say: |\n"
        "      What is your number?\n"
        "      {% if slots.phone %}I have {{ slots.phone | digit }}.{% endif %}"
    )
    assert errors_of(tmp_path, ask) == [
        at(tmp_path, 8, "unknown filter 'digit' (did you mean 'digits'?)")
    ]


def test_unknown_test_in_every_branch_and_a_conditional_expression(tmp_path):
    ask = (
        "    say: |\n"
        "      {% if slots.phone is phonish %}Yes.{% elif slots.phone is numbr %}Maybe."
        "{% else %}{{ 'x' | shout }}{% endif %}\n"
        '      {{ slots.phone | spell if slots.phone is filled else "none" }}'
    )
    errors = errors_of(tmp_path, ask)
    assert [error.split(" (")[0] for error in errors] == [
        at(tmp_path, 7, "unknown test 'phonish'"),
        at(tmp_path, 7, "unknown test 'numbr'"),
        at(tmp_path, 7, "unknown filter 'shout'"),
        at(tmp_path, 8, "unknown test 'filled'"),
    ]


def test_unknown_filter_in_a_guards_conditional_expression(tmp_path):
    write_project(
        tmp_path,
        {
            "tiny": FLOW.format(ask="    say: Number?").replace(
                "- to: done", "- {to: done, when: 'slots.phone | digitz if slots.phone else 0'}"
            )
        },
    )
    with pytest.raises(AuthoringErrors) as raised:
        project(tmp_path).open_flow(tmp_path / "flows" / "tiny.yaml")
    assert [str(error) for error in raised.value.errors] == [
        at(tmp_path, 9, "unknown filter 'digitz' (did you mean 'digits'?)")
    ]


def test_an_included_file_is_checked_like_a_line(tmp_path):
    prompts = {
        "partials/style.j2": (
            "Be brief.\n"
            "{% if slots.phone is phonish %}\n"
            "  Say {{ slots.phnoe | spell }} and {{ caller }}.\n"
            "{% endif %}\n"
        ),
        "partials/m.j2": "{% macro say(x) %}{{ x | shout }}{% endmacro %}\n",
        "ask.j2": "{% include 'partials/style.j2' %}\n"
        "{% from 'partials/m.j2' import say %}{{ say(1) }}\n",
    }
    style = tmp_path / "prompts" / "partials" / "style.j2"
    in_style = [
        f"{style}:2: unknown test 'phonish' (known tests include",
        f"{style}:3: unknown variable 'caller' (templates see call, flow, slots, state)",
        f"{style}:3: unknown slot 'phnoe' (did you mean 'phone'?)",
    ]
    line = "    say: \"{% include 'partials/style.j2' %}Number?\"\n    reask: Again?"
    errors = errors_of(tmp_path, line, prompts)
    assert [error[: len(want)] for error, want in zip(errors, in_style, strict=True)] == in_style
    macros = tmp_path / "prompts" / "partials" / "m.j2"
    errors = errors_of(tmp_path, "    prompt: ask.j2", prompts)
    assert errors[0] == f"{macros}:1: unknown filter 'shout' (did you mean 'sort'?)"
    assert [
        error[: len(want)] for error, want in zip(errors[1:], in_style, strict=True)
    ] == in_style


def test_an_included_file_sees_what_its_includer_sets(tmp_path):
    prompts = {"partials/item.j2": "{{ item }} at {{ where }}\n"}
    ask = (
        "    say: \"{% set where = 'home' %}{% for item in [1] %}"
        "{% include 'partials/item.j2' %}{% endfor %}\""
    )
    write_project(tmp_path, {"tiny": FLOW.format(ask=ask)}, prompts)
    assert project(tmp_path).open_flow(tmp_path / "flows" / "tiny.yaml").name == "tiny"


def test_every_problem_of_one_block_each_at_its_line(tmp_path):
    ask = (
        "    say: |\n"
        "      Your number is {{ slots.phone | digit }}.\n"
        "      Your name is {{ slots.nmae }}.\n"
        "      {% include 'partials/nope.j2' %}"
    )
    assert errors_of(tmp_path, ask) == [
        at(tmp_path, 7, "unknown filter 'digit' (did you mean 'digits'?)"),
        at(tmp_path, 8, "unknown slot 'nmae' (declare it under `slots:`)"),
        at(tmp_path, 9, f"template file 'partials/nope.j2' not found ({looked(tmp_path)})"),
    ]


def test_every_problem_of_a_prompt_file_each_at_its_line(tmp_path):
    prompts = {
        "ask.j2": "Ask for the number.\n{{ slots.phone | shout }}\n{{ slots.phnoe }}\n"
        "{% include 'gone.j2' %}\n"
    }
    ask_file = tmp_path / "prompts" / "ask.j2"
    assert errors_of(tmp_path, "    prompt: ask.j2", prompts) == [
        f"{ask_file}:2: unknown filter 'shout' (did you mean 'sort'?)",
        f"{ask_file}:3: unknown slot 'phnoe' (did you mean 'phone'?)",
        f"{ask_file}:4: template file 'gone.j2' not found ({looked(tmp_path)})",
    ]


def test_a_broken_file_included_twice_is_reported_once(tmp_path):
    ask = (
        "    say: \"{% include 'partials/style.j2' %}Number?\"\n"
        "    reask: \"{% include 'partials/style.j2' %}Again?\""
    )
    errors = errors_of(tmp_path, ask, {"partials/style.j2": "{% if %}\n"})
    assert len(errors) == 1
