"""A new flow's starting files: the flow, its persona prompt, and its conversation tests.

``dialplan new NAME`` writes them; as created they load without errors and their tests pass,
so an author starts from something green and changes one thing at a time.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from engine.flow.spec import flow_json_schema

FLOW = Template("""\
# yaml-language-server: $$schema=$schema
flow: $name
description: >
  Ask for the caller's name, read it back, and say goodbye; a person on request.
  Check it with `dialplan validate flows/$name.yaml` and
  `dialplan test tests/conversations/$name.yaml`.
persona: $name/persona.j2
begin: >-
  Hi, thanks for calling. Can I have your full name, please?

slots:
  full_name: {type: name, description: "the caller's first and last name"}

states:
  ask_name:
    say: Can I have your full name, please?
    reask: Could you tell me your first and last name?
    reminder: Are you still there? I just need your full name.
    collect: [full_name]
    retries: 2
    on_give_up: transfer
    next:
      - to: confirm

  confirm:
    say: I have {{ slots.full_name }}. Is that right?
    reask: Is that your name? Please say yes or no.
    retries: 2
    on_give_up: transfer
    next:
      - to: goodbye
        intent: confirm
        means: yes
        description: the caller says the name is right
        examples: [that's right, that is correct, correct]
      - to: ask_name
        intent: correct
        means: no
        description: the caller says the name is wrong
        examples: [that's wrong, not right, wrong name]
        clear: [full_name]

  goodbye:
    say: Thank you, {{ slots.full_name.split()[0] }}. Goodbye!
    no_interruption: true
    end_call: true

  transfer:
    say: Let me connect you with someone who can help.
    no_interruption: true
    transfer: "{{ call.metadata.get('transfer_number', '+14155550100') }}"

global:
  - intent: human
    description: the caller asks for a person
    examples: [a person, a human, real person, operator, talk to someone, speak to someone]
    to: transfer
""")

PERSONA = Template("""\
{# System prompt of every state of the $name flow. The model only speaks when our parsers
   cannot settle a turn (and never without a model configured). #}
You are the phone assistant of {{ call.metadata.get("company", "our company") }}, on a call.
Be warm and brief: one or two short sentences at a time, plain spoken English, no lists or symbols.
""")

TESTS = Template("""\
# Conversation tests of flows/$name.yaml: run with `dialplan test tests/conversations/$name.yaml`.
flow: $name

tests:
  - name: happy path
    turns:
      - agent: {says: full name}
      - caller: My name is Dana Scully
        expect: {state: confirm, says: I have Dana Scully}
      - caller: yes
        expect: {state: goodbye, says: "Thank you, Dana", ended: true}
    expect: {slots: {full_name: Dana Scully}, path: [ask_name, confirm, goodbye]}

  - name: correcting the name
    turns:
      - caller: My name is Dana Scully
      - caller: no, that's wrong
        expect: {state: ask_name, says: full name}
      - caller: Fox Mulder
        expect: {state: confirm, says: I have Fox Mulder}
      - caller: that's right
        expect: {says: "Thank you, Fox", ended: true}
    expect: {slots: {full_name: Fox Mulder}}

  - name: asking for a person
    turns:
      - caller: can I talk to a real person
        expect: {state: transfer, transferred: true}
""")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # engine.spec.Name


class ScaffoldError(ValueError):
    """The files cannot be created (bad name, or they exist)."""


def scaffold_files(name: str, root: Path = Path(".")) -> dict[Path, str]:
    """The new flow's files, relative to the project root, with their text.

    Editors find the flow schema next to the flows (``flows/flow.schema.json``, written when
    missing) unless the project is dialplan's own tree, whose flows use the packaged one.
    """
    if not _NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a valid flow name: use letters, digits and underscores, "
            "not starting with a digit"
        )
    files: dict[Path, str] = {}
    if (root / "engine" / "schema" / "flow.schema.json").is_file():
        schema = "../engine/schema/flow.schema.json"
    else:
        schema = "flow.schema.json"
        if not (root / "flows" / schema).exists():
            files[Path("flows") / schema] = flow_json_schema()
    return files | {
        Path("flows") / f"{name}.yaml": FLOW.substitute(name=name, schema=schema),
        Path("prompts") / name / "persona.j2": PERSONA.substitute(name=name),
        Path("tests") / "conversations" / f"{name}.yaml": TESTS.substitute(name=name),
    }


def create(name: str, root: Path) -> list[Path]:
    """Write the new flow's files under ``root``; nothing is written if any already exists."""
    files = {root / path: text for path, text in scaffold_files(name, root).items()}
    existing = [path for path in files if path.exists()]
    if existing:
        raise ScaffoldError(
            "not overwriting " + ", ".join(str(path) for path in existing) + " (pick another name)"
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
