"""The ``dialplan`` command group; each command lives in the module of its kind of work."""

from __future__ import annotations

import click

from engine import __version__

from .call import call
from .calls import calls
from .chat import chat
from .conversations import test
from .flows import schema, validate
from .graph import graph
from .new import new
from .serve import serve


@click.group()
@click.version_option(__version__, prog_name="dialplan")
def main() -> None:
    """Dialplan: scripted voice agents for the Custom LLM WebSocket protocol."""


for command in (serve, validate, schema, graph, chat, test, new, calls, call):
    main.add_command(command)
