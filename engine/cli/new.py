"""``dialplan new``: a new flow's files, green from the start."""

from __future__ import annotations

from pathlib import Path

import click

from .scaffold import ScaffoldError, create


@click.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The project folder (flows/, prompts/ and tests/ go under it).",
)
def new(name: str, root: Path) -> None:
    """Create flow NAME: flows/NAME.yaml, its persona prompt, and its conversation tests.

    The files load and their tests pass as created; existing files are never overwritten.
    """
    try:
        written = create(name, root)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"created {path}")
    flow, tests = f"flows/{name}.yaml", f"tests/conversations/{name}.yaml"
    click.echo(f"next: dialplan validate {flow} && dialplan test {tests}")
