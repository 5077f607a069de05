"""``dialplan validate`` and ``dialplan schema``: flow files checked, and their JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

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

    Every problem is listed as `file:line: message (hint)`. With --format json the output is
    `{"files": [{"path", "ok", "errors": [{"file", "line", "message", "hint"}]}], "ok": N,
    "failed": N}`; the exit code is the same.
    """
    overrides = {"prompts_dir": prompts_dir} if prompts_dir else {}
    project = _project.project(**overrides)
    results = project.check_files(paths)
    if project.plugin_errors:
        # Plugins named in the settings serve every flow: their errors belong to each file.
        results = [(path, project.plugin_errors + errors) for path, errors in results]
    broken = sum(1 for _, errors in results if errors)
    total = sum(len(errors) for _, errors in results)
    ok = len(results) - broken
    if fmt == "json":
        report = [
            {"path": str(path), "ok": not errors, "errors": [e.as_json() for e in errors]}
            for path, errors in results
        ]
        click.echo(json.dumps({"files": report, "ok": ok, "failed": broken}, indent=2))
    else:
        for _, errors in results:
            for error in errors:
                click.echo(str(error))
        click.echo(
            f"{len(results)} flow file(s) checked: {ok} ok, {broken} with errors "
            f"({total} error(s))",
            err=True,
        )
    sys.exit(1 if broken or not results else 0)


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def schema(output: Path | None) -> None:
    """Print (or write) the JSON Schema of flow files, for editors and CI."""
    text = flow_json_schema()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
