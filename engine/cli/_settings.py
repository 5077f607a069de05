"""The settings a command runs with, checked; and the one shape of an operator's mistake.

Every command first checks the environment (:func:`settings`, from the command group): a
``DIALPLAN_*`` variable that is no setting (in the environment or in ``.env``), a value a
setting cannot take, settings that contradict each other. Each problem is one line, all of them
at once, and the command exits with status 2 (as click does for a wrong flag) without a
traceback: :class:`OperatorError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from engine.settings import Settings, problems, unknown_variables

EXIT_STATUS = 2


class OperatorError(click.ClickException):
    """What the operator must fix before the command can run: one line per problem."""

    exit_code = EXIT_STATUS

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)

    def show(self, file: IO[Any] | None = None) -> None:
        """Each problem on a line of its own, after the command's name."""
        for problem in self.problems:
            click.echo(f"dialplan: {problem}", file=file, err=file is None)


def settings(**overrides: object) -> Settings:
    """The settings (``DIALPLAN_*``, ``.env``, then ``overrides``), or every problem with them."""
    unknown = unknown_variables()
    try:
        checked = Settings(**overrides)  # type: ignore[arg-type]
    except (ValidationError, SettingsError) as exc:
        raise OperatorError([*unknown, *problems(exc)]) from None
    if unknown:
        raise OperatorError(unknown)
    return checked
