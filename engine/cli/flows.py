"""``dialplan validate`` and ``dialplan schema``: flow files checked, and their JSON Schema."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from engine.errors import AuthoringError
from engine.flow.spec import flow_json_schema

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
    """Check flow files (default: the flows folder); exit 1 if any has an error.

    Every problem is listed as `file:line: message (hint)`, warnings as `file:line: warning:
    message (hint)`; warnings never fail. With --format json the output is `{"files": [{"path",
    "ok", "errors": [{"file", "line", "severity", "message", "hint"}], "warnings": [...]}],
    "ok": N, "failed": N}`; the exit code is the same.
    """
    overrides = {"prompts_dir": prompts_dir} if prompts_dir else {}
    project = _project.project(**overrides)
    results = project.check_files(paths)
    broken = sum(1 for check in results if check.errors)
    total = sum(len(check.errors) for check in results)
    warned = sum(len(check.warnings) for check in results)
    ok = len(results) - broken
    if fmt == "json":
        report = [
            {
                "path": str(check.path),
                "ok": not check.errors,
                "errors": [e.as_json() for e in check.errors],
                "warnings": [w.as_json() for w in check.warnings],
            }
            for check in results
        ]
        click.echo(json.dumps({"files": report, "ok": ok, "failed": broken}, indent=2))
    else:
        for check in results:
            for problem in sorted([*check.errors, *check.warnings], key=_by_line(check.path)):
                click.echo(str(problem))
        warnings = f", {warned} warning(s)" if warned else ""
        click.echo(
            f"{len(results)} flow file(s) checked: {ok} ok, {broken} with errors "
            f"({total} error(s){warnings})",
            err=True,
        )
    sys.exit(1 if broken or not results else 0)


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
