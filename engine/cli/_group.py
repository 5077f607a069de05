"""A command group whose commands are imported only when one of them runs.

Each command's module imports what its work needs (Quart for ``serve``, SQLAlchemy for
``calls``, openai for ``chat``); importing them all would make ``dialplan --help`` and
``dialplan validate`` pay for every one. The group knows each command by its module and short
help, so ``--help`` lists them all without importing any.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives, and the line ``--help`` shows for it (its docstring's first)."""

    module: str
    attribute: str
    short_help: str

    def load(self) -> click.Command:
        """The command itself, its module imported."""
        command = getattr(importlib.import_module(self.module), self.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.module}.{self.attribute} is not a click command")
        return command


class LazyGroup(click.Group):
    """A :class:`click.Group` of :class:`LazyCommand` entries, each loaded when it runs."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, loaded or not."""
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, its module imported now if it was not yet."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, as click writes it, from the short helps alone."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = [(name, self._stand_in(ctx, name).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _stand_in(self, ctx: click.Context, name: str) -> click.Command:
        # A command that only carries the short help: click shortens it as it would the real one.
        if name in self.commands or name not in self.lazy:
            return self.get_command(ctx, name) or click.Command(name)
        return click.Command(name, help=self.lazy[name].short_help)
