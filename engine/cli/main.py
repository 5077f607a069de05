"""The ``dialplan`` command group; each command lives in the module of its kind of work.

A command's module is imported only when that command runs (:mod:`engine.cli._group`): the
short helps below are what ``dialplan --help`` shows, the first line of each command's
docstring (``tests/test_startup.py`` keeps them equal).
"""

from __future__ import annotations

import click

from engine import __version__

from ._group import LazyCommand, LazyGroup

COMMANDS = {
    "call": LazyCommand(
        "engine.cli.call",
        "call",
        "Place a call (--to) or a batch of calls (--csv) through the platform.",
    ),
    "calls": LazyCommand(
        "engine.cli.calls",
        "calls",
        "Read the call log: what each call collected and how it went.",
    ),
    "chat": LazyCommand(
        "engine.cli.chat",
        "chat",
        "Talk to FLOW as the caller, through the same conversation code the server runs.",
    ),
    "graph": LazyCommand(
        "engine.cli.graph",
        "graph",
        "Draw FLOW (a name in the flows folder, or a .yaml path) as a state diagram.",
    ),
    "new": LazyCommand(
        "engine.cli.new",
        "new",
        "Create flow NAME: flows/NAME.yaml, its persona prompt, and its conversation tests.",
    ),
    "prompt": LazyCommand(
        "engine.cli.prompt",
        "prompt",
        "Show what the model is given in STATE of FLOW: messages, tools, and a token estimate.",
    ),
    "replay": LazyCommand(
        "engine.cli.replay",
        "replay",
        "Play recorded calls against FLOW (the working tree's) or --flow-version.",
    ),
    "rollout": LazyCommand(
        "engine.cli.rollout",
        "rollout",
        "Roll a candidate version of a flow out to a share of its calls; promote or roll back.",
    ),
    "schema": LazyCommand(
        "engine.cli.flows",
        "schema",
        "Print (or write) the JSON Schema of flow files, for editors and CI.",
    ),
    "serve": LazyCommand(
        "engine.cli.serve",
        "serve",
        "Run the call server (hypercorn) with the configured agent.",
    ),
    "test": LazyCommand(
        "engine.cli.conversations",
        "test",
        "Run conversation tests (default: tests/conversations) with pytest.",
    ),
    "validate": LazyCommand(
        "engine.cli.flows",
        "validate",
        "Check flow files (default: the flows folder, and routes.yaml); exit 1 if any has an "
        "error.",
    ),
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(__version__, prog_name="dialplan")
def main() -> None:
    """Dialplan: scripted voice agents for the Custom LLM WebSocket protocol."""
    # Before any command: a misspelt DIALPLAN_* variable, or settings that cannot work, stop
    # it with one line each (exit status 2) instead of being ignored or failing half-way.
    # Imported here: --help and --version need no settings (nor pydantic).
    from . import _settings

    _settings.settings()
