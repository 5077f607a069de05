"""Opening the project and its flows for a command, every failure a clear one-line error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.errors import AuthoringError, AuthoringErrors
from engine.project import Project

from ._settings import settings

if TYPE_CHECKING:
    from engine.flow import CompiledFlow, Stub


def project(**overrides: object) -> Project:
    """The project of the working folder, as the settings describe it."""
    return Project.from_settings(settings(**overrides))


def open_flow(name_or_path: str | Path, the_project: Project | None = None) -> CompiledFlow:
    """A flow by name or path, or a clear error (its ``file:line`` list when it is broken)."""
    the_project = the_project or project()
    try:
        return the_project.open_flow(name_or_path)
    except AuthoringErrors as exc:
        raise click.ClickException(f"flow {str(name_or_path)!r} does not load:\n{exc}") from None
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


def kept_versions(the_project: Project) -> Callable[[str], bool] | None:
    """Whether the call log keeps a version (``None`` where there is no call log to ask)."""
    url = the_project.settings.database_url
    if not url:
        return None
    from engine.records import Database, FlowVersions, RecordsError

    database = Database(url)
    file = database.sqlite_file()
    if file is not None and not file.exists():
        database.close()
        return None

    def kept(version: str) -> bool:
        try:
            database.migrate()
            return FlowVersions(database).get(version) is not None
        except RecordsError:
            return True  # a call log that cannot be read is no reason to refuse the file
        finally:
            database.close()

    return kept


def routes_errors(the_project: Project, path: Path | None = None) -> list[AuthoringError]:
    """The errors of a routing table (default: the project's; none when there is no file)."""
    path = path or the_project.settings.routes_file
    if not path.exists():
        return []
    from engine.phone import load_routes  # most projects have no routing table

    flows = the_project.flow_names() if the_project.agent_kind == "flow" else None
    try:
        load_routes(path, flows)
    except AuthoringErrors as exc:
        return list(exc.errors)
    return []


def action_stubs(path: Path) -> dict[str, Stub]:
    """What stubbed actions answer, from an actions file, or a clear error (``file:line``)."""
    from engine.testing.conversation_spec import load_action_stubs, stubs_of

    try:
        return stubs_of(load_action_stubs(path))
    except AuthoringErrors as exc:
        raise click.ClickException(f"actions file {str(path)!r} does not load:\n{exc}") from None
