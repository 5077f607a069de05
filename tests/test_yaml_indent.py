"""A key one space too far or too little: said as such, at the line that is off."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import AuthoringErrors
from engine.flow import Extensions, load_flow
from engine.templates import make_environment

FLOW = """\
flow: tiny
slots:
  phone: {type: phone}
  name:
    type: name
    description: the caller's name
states:
  ask:
    say: What is your number?
    collect: [phone, name]
    next:
      - to: done
  done:
    say: Bye.
    end_call: true
"""

MORE = "this line is indented more than the keys around it"
LESS = "this line is indented less than the keys around it"


def first_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AuthoringErrors) as raised:
        load_flow(path, make_environment(), Extensions())
    return str(raised.value.errors[0]).removeprefix(f"{path}:")


def test_the_flow_as_written_loads(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(FLOW, encoding="utf-8")
    assert load_flow(path, make_environment(), Extensions()).spec.flow == "tiny"


CASES = [
    # (what, the line as changed, the line the error is on, what it says)
    ("a state's key one too far", ("    collect:", "     collect:"), 10, MORE),
    ("a state's key one too little", ("    collect:", "   collect:"), 10, LESS),
    ("a state's first key one too far", ("    say: What", "     say: What"), 9, MORE),
    ("a state's first key one too little", ("    say: What", "   say: What"), 9, LESS),
    ("a state's last key one too little", ("    end_call", "   end_call"), 15, LESS),
    ("a slot's key one too far", ("    description:", "     description:"), 6, MORE),
    ("a slot's key one too little", ("    description:", "   description:"), 6, LESS),
    ("a slot's first key one too far", ("    type: name", "     type: name"), 5, MORE),
    ("a slot's first key one too little", ("    type: name", "   type: name"), 5, LESS),
    ("a slot one too far", ("  phone: {", "   phone: {"), 3, MORE),
    ("a transition's key one too little", ("- to: done", "- to: done\n       when: x"), 13, LESS),
    ("a transition's key one too far", ("- to: done", "- to: done\n         when: x"), 13, MORE),
]


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_key_indented_off_by_one(tmp_path, change, line, message):
    old, new = change
    assert FLOW.count(old) == 1
    error = first_error(tmp_path, FLOW.replace(old, new))
    assert error.startswith(f"{line}: {message} (`")


def test_the_hint_names_both_indentations(tmp_path):
    error = first_error(tmp_path, FLOW.replace("    collect:", "     collect:"))
    assert error == (
        f"10: {MORE} (`collect:` has 5 spaces, the keys around it 4 spaces: line it up with "
        "them (or, if it goes on with the text of the line above, put that text in quotes))"
    )
    error = first_error(tmp_path, FLOW.replace("    description:", "   description:"))
    assert error == (
        f"6: {LESS} (`description:` has 3 spaces, the keys around it 4 spaces: line it up "
        "with them)"
    )


def test_a_key_after_a_text_block(tmp_path):
    text = FLOW.replace(
        "    say: What is your number?\n    collect:",
        "    say: |\n      What is\n      your number?\n     collect:",
    )
    assert first_error(tmp_path, text).startswith(f"12: {MORE} (`collect:` has 5 spaces")


def test_a_colon_inside_text_still_says_to_quote_it(tmp_path):
    text = FLOW.replace("say: What is your number?", "say: Note: we need your number")
    assert first_error(tmp_path, text).startswith(
        "9: a colon followed by a space inside plain text starts a new key (put the text in quotes"
    )
