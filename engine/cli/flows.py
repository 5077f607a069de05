"""``dialplan validate`` and ``dialplan schema``: flow files checked, and their JSON Schema."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from engine.errors import AuthoringError
from engine.flow.spec import flow_json_schema
from engine.project import FileCheck

from . import _project


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--prompts-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON document on stdout, for editors and CI.",
)
def validate(paths: tuple[Path, ...], prompts_dir: Path | None, fmt: str) -> None:
    """Check flow files (default: the flows folder, and routes.yaml); exit 1 if any has an error.

    By default the project file (dialplan.yaml: rollouts) is checked too, as when it is named.

    Every problem is listed as `file:line: message (hint)`, warnings as `file:line: warning:
    message (hint)`; warnings never fail. With --format json the output is `{"files": [{"path",
    "ok", "errors": [{"file", "line", "severity", "message", "hint"}], "warnings": [...]}],
    "ok": N, "failed": N}`; the exit code is the same.
    """
    overrides = {"prompts_dir": prompts_dir} if prompts_dir else {}
    project = _project.project(**overrides)
    # The routing table (routes.yaml) and the project file (dialplan.yaml) are checked with the
    # flows: by default, or when named.
    table = project.settings.routes_file
    project_file = project.project_file.path
    others = (table.name, project_file.name)
    named = [path for path in paths if path.name == table.name]
    flow_paths = [path for path in paths if path.name not in others]
    results = project.check_files(flow_paths) if flow_paths or not paths else []
    tables = named or ([table] if not paths and table.exists() else [])
    routes = [FileCheck(path, _project.routes_errors(project, path), []) for path in tables]
    if any(path.name == project_file.name for path in paths) or (
        not paths and project_file.exists()
    ):
        routes.append(project.check_project_file(_project.kept_versions(project)))
    broken = sum(1 for check in results if check.errors)
    total = sum(len(check.errors) for check in results)
    warned = sum(len(check.warnings) for check in results)
    ok = len(results) - broken
    broken_tables = sum(1 for check in routes if check.errors)
    if fmt == "json":
        report = [
            {
                "path": str(check.path),
                "ok": not check.errors,
                "errors": [e.as_json() for e in check.errors],
                "warnings": [w.as_json() for w in check.warnings],
            }
            for check in [*results, *routes]
        ]
        click.echo(
            json.dumps(
                {
                    "files": report,
                    "ok": ok + len(routes) - broken_tables,
                    "failed": broken + broken_tables,
                },
                indent=2,
            )
        )
    else:
        for check in results:
            for problem in sorted([*check.errors, *check.warnings], key=_by_line(check.path)):
                click.echo(str(problem))
        warnings = f", {warned} warning(s)" if warned else ""
        if results or not routes:
            click.echo(
                f"{len(results)} flow file(s) checked: {ok} ok, {broken} with errors "
                f"({total} error(s){warnings})",
                err=True,
            )
        for check in routes:
            for problem in check.errors:
                click.echo(str(problem))
            verdict = f"{len(check.errors)} error(s)" if check.errors else "ok"
            kind = "project file" if check.path == project_file else "routing table"
            click.echo(f"{kind} {check.path}: {verdict}", err=True)
    sys.exit(1 if broken or broken_tables or not (results or routes) else 0)


def _by_line(path: Path) -> Callable[[AuthoringError], tuple[bool, str, int]]:
    # The flow file's own problems first, by line; then those in its template files.
    def key(error: AuthoringError) -> tuple[bool, str, int]:
        file, line = error.sort_key()
        return (file != str(path), file, line)

    return key


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def schema(output: Path | None) -> None:
    """Print (or write) the JSON Schema of flow files, for editors and CI."""
    text = flow_json_schema()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
