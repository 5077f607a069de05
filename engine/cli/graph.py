"""``dialplan graph``: draw a flow as a state diagram (Mermaid, DOT, SVG or PNG)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from engine.diagram import COVERAGE_FILE, Coverage, Format, GraphError, mermaid, render
from engine.diagram.coverage import load as load_coverage

from . import _project

_SUFFIXES = {
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".dot": "dot",
    ".gv": "dot",
    ".svg": "svg",
    ".png": "png",
}


@click.command("graph")
@click.argument("flow")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "svg", "png", "dot"]),
    help="Output format [default: from -o's suffix, else mermaid]. svg and png need Graphviz.",
)
@click.option("--at", "at", metavar="STATE", help="Highlight this state.")
@click.option(
    "--coverage",
    "coverage_file",
    is_flag=False,
    flag_value=str(COVERAGE_FILE),
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Grey out what no conversation test visited [FILE default: {COVERAGE_FILE}].",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def graph(
    flow: str, fmt: str | None, at: str | None, coverage_file: Path | None, output: Path | None
) -> None:
    """Draw FLOW (a name in the flows folder, or a .yaml path) as a state diagram.

    Guards and intents label the ways out, dashed edges are give-ups, "any state" holds the
    global intents, and double borders mark where the call hangs up or transfers.
    """
    if fmt is None:
        fmt = _SUFFIXES.get(output.suffix.lower(), "mermaid") if output else "mermaid"
    compiled = _project.open_flow(flow)
    coverage = None
    if coverage_file is not None:
        coverage = _read_coverage(coverage_file, compiled.name)
    try:
        if fmt == "mermaid":
            data = mermaid(compiled, at=at, coverage=coverage).encode()
        else:
            data = render(compiled, cast(Format, fmt), at=at, coverage=coverage)
    except GraphError as exc:
        raise click.ClickException(str(exc)) from None
    if output is not None:
        output.write_bytes(data)
    elif fmt == "png" and sys.stdout.isatty():
        raise click.ClickException("png is binary: write it to a file with -o FILE.png")
    else:
        click.echo(data, nl=False)


def _read_coverage(path: Path, flow: str) -> Coverage:
    if not path.is_file():
        raise click.ClickException(
            f"no coverage file {path} (conversation tests write it when run with coverage)"
        )
    recorded = load_coverage(path)
    if flow not in recorded:
        click.echo(
            f"note: {path} has no coverage of flow {flow!r}; all of it is unvisited", err=True
        )
    return recorded.get(flow, Coverage())
