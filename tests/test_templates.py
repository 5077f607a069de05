"""The one sandboxed Jinja environment: strict, sandboxed, with voice filters."""

from __future__ import annotations

import pytest

from engine.errors import TemplateError
from engine.templates import SPOKEN_FILTERS, compile_string, load_template, make_environment, render


def test_caller_text_is_a_value_not_template_source():
    env = make_environment(None, SPOKEN_FILTERS)
    line = compile_string(env, "You said: {{ said }}")
    assert render(line, {"said": "{{ 7 * 7 }}"}) == "You said: {{ 7 * 7 }}"


def test_sandbox_blocks_python_internals():
    env = make_environment(None, SPOKEN_FILTERS)
    line = compile_string(env, "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError, match="cannot render"):
        render(line, {})


def test_a_misspelt_variable_is_an_error_not_a_blank():
    env = make_environment(None, SPOKEN_FILTERS)
    line = compile_string(env, "Hello {{ nmae }}!")
    with pytest.raises(TemplateError, match="nmae"):
        render(line, {"name": "Dana"})


def test_voice_filters_are_registered():
    env = make_environment(None, SPOKEN_FILTERS)
    line = compile_string(env, "{{ d | spoken_date }} at {{ t | spoken_time }}, {{ n | digits }}")
    text = render(line, {"d": "1980-03-03", "t": "19:30", "n": "4155550123"})
    assert text == "March 3rd, 1980 at 7:30 PM, 4 1 5, 5 5 5, 0 1 2 3"


def test_template_files_report_file_and_line(tmp_path):
    (tmp_path / "broken.j2").write_text("line one\n{% if %}\n")
    env = make_environment(tmp_path)
    with pytest.raises(TemplateError) as error:
        load_template(env, "broken.j2")
    assert str(error.value).startswith(f"{tmp_path / 'broken.j2'}:2: ")
    with pytest.raises(TemplateError, match="not found"):
        load_template(env, "missing.j2")


def test_a_render_error_names_the_file_and_line(tmp_path):
    (tmp_path / "persona.j2").write_text("Hello.\nYou work for {{ call.metadata.company }}.\n")
    env = make_environment(tmp_path)
    with pytest.raises(TemplateError) as raised:
        render(load_template(env, "persona.j2"), {"call": {"metadata": {}}})
    assert str(raised.value).startswith(
        f"{tmp_path / 'persona.j2'}:2: cannot render: 'dict object' has no attribute 'company'"
    )
    line = compile_string(env, "Hi {{ call.metadata.company }}", "flows/x.yaml:7")
    with pytest.raises(TemplateError) as raised:
        render(line, {"call": {"metadata": {}}})
    assert str(raised.value).startswith("flows/x.yaml:7: cannot render:")


def test_an_empty_value_says_nothing_and_default_fills_it():
    env = make_environment()
    line = compile_string(env, "[{{ x }}] [{{ x | default('none') }}] [{{ y | d('-') }}]")
    assert render(line, {"x": None, "y": "set"}) == "[] [none] [set]"
