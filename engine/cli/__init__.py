"""The ``dialplan`` command line: one module per command group (serve, flows, chat, tests)."""

from engine.cli.main import main

__all__ = ["main"]
