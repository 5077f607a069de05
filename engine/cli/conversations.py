"""``dialplan test``: conversation tests, and what of each flow they covered.

``dialplan test`` is pytest with dialplan's plugin (:mod:`engine.testing.pytest_plugin`) on
the conversation files, so a project's ``pytest`` runs the same tests. With ``--coverage`` it
then lists, per flow, the states and transitions no test went through.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.diagram import COVERAGE_FILE, Coverage, mermaid
from engine.diagram.coverage import ANY_STATE, FlowTransition, exercised, transitions
from engine.flow import CompiledFlow
from engine.server.logs import configure

if TYPE_CHECKING:
    import pytest

    from engine.testing.conversations import ConversationSession

DEFAULT_TESTS = Path("tests/conversations")


class _ConfigCapture:
    """A pytest plugin that keeps the run's config, to read the session's coverage after."""

    config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--coverage",
    is_flag=True,
    help=f"List the states and transitions no test exercised (also saved to {COVERAGE_FILE}).",
)
@click.option(
    "--diagram",
    "diagram_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --coverage: also write each flow's diagram with the unexercised parts greyed "
    "out to DIR/<flow>.coverage.mmd (Mermaid; DIR is created if needed).",
)
@click.option(
    "--live-actions",
    is_flag=True,
    help="Run the flows' actions for real (webhooks are sent). By default they are stubbed: "
    "each returns {} or what the test file declares under `actions:`.",
)
@click.option("-k", "keyword", metavar="EXPRESSION", help="Only tests whose name matches.")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing test.")
def test(
    paths: tuple[Path, ...],
    coverage: bool,
    diagram_dir: Path | None,
    live_actions: bool,
    keyword: str | None,
    exitfirst: bool,
) -> None:
    """Run conversation tests (default: tests/conversations) with pytest.

    Each entry of a file's `tests:` is one scripted call through the flow, checked turn by
    turn; a failure shows the transcript, the states entered and the slots. The exit code is
    pytest's. Coverage counts a move between two states for every way the flow declares
    between them (a give-up and a global intent into the same state are one move).
    """
    try:
        import pytest
    except ImportError:
        raise click.ClickException(
            "dialplan test runs pytest, which is not installed: pip install pytest"
        ) from None

    from engine.testing.pytest_plugin import INI_FOLDERS, conversation_session

    # The flow's own debug lines (one per state entered) would bury a failure's transcript.
    configure("WARNING")
    root = Path.cwd()
    targets = list(paths) or [DEFAULT_TESTS]
    if not paths and not DEFAULT_TESTS.is_dir():
        raise click.ClickException(f"no {DEFAULT_TESTS} folder here; name the files to run")
    coverage = coverage or diagram_dir is not None
    args = [str(target) for target in targets]
    # The named files and folders are the conversation tests, wherever they are; flows and
    # prompts are found from here, whatever pytest would pick as rootdir.
    folders = "\n".join(str(target.resolve()) for target in targets)
    args += ["--rootdir", str(root), "-o", f"{INI_FOLDERS}={folders}"]
    # pytest runs in this process, where the command line has already imported modules that
    # some pytest plugins (anyio's, ours) live in; they need no assertion rewriting, so the
    # warning about it must not fail the run under `filterwarnings = error`.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "engine.testing.pytest_plugin"]
    elif importlib.util.find_spec("pytest_asyncio") is not None:
        # pytest-asyncio (installed beside dialplan's dev tools, or the project's own) warns on
        # every run whose configuration leaves its fixture loop scope unset, as a project
        # folder with no pytest configuration does. Conversation tests have no fixtures of
        # theirs; "function" is the scope pytest-asyncio itself will default to.
        args += ["-o", "asyncio_default_fixture_loop_scope=function"]
    if keyword:
        args += ["-k", keyword]
    if exitfirst:
        args.append("-x")
    if live_actions:
        args.append("--dialplan-live-actions")
    if coverage:
        (root / COVERAGE_FILE).unlink(missing_ok=True)  # this run's coverage, not old runs'
        args.append("--dialplan-coverage")
    capture = _ConfigCapture()
    code = int(pytest.main(args, plugins=[capture]))
    session = conversation_session(capture.config) if capture.config is not None else None
    if coverage:
        if session is None or not session.coverage:
            click.echo("\nno conversation test ran: no coverage to report")
        else:
            click.echo("\n" + coverage_report(session.flows, session.coverage))
            if not paths:
                _untested_flows(session)
            if diagram_dir is not None:
                _diagrams(session, diagram_dir)
    raise SystemExit(code)


def coverage_report(flows: dict[str, CompiledFlow], coverage: dict[str, Coverage]) -> str:
    """Per flow, a table of the states and transitions nobody exercised, and a percentage."""
    out: list[str] = []
    total_done = total_all = reported = 0
    for name in sorted(coverage):
        flow = flows.get(name)
        if flow is None:
            continue
        reported += 1
        covered = coverage[name]
        states = list(flow.spec.states)
        ways = transitions(flow.spec)
        missing_states = [s for s in states if s not in covered.states]
        missing_ways = [w for w in ways if not exercised(w, covered)]
        done = len(states) - len(missing_states) + len(ways) - len(missing_ways)
        count = len(states) + len(ways)
        total_done, total_all = total_done + done, total_all + count
        out.append(f"flow {name} ({_shown(flow.loaded.path)}):")
        rows = [("state", state, "", "") for state in missing_states]
        rows += [("transition", *_transition_row(way)) for way in missing_ways]
        if rows:
            out.extend(_table(("not exercised", "state / from", "to", "how"), rows))
        else:
            out.append("  every state and transition was exercised")
        out.append(
            f"  states {len(states) - len(missing_states)}/{len(states)}, transitions "
            f"{len(ways) - len(missing_ways)}/{len(ways)}: {_percent(done, count)} covered"
        )
        out.append("")
    if reported > 1:
        out.append(f"total: {total_done}/{total_all} = {_percent(total_done, total_all)} covered")
    return "\n".join(out).rstrip("\n")


def _shown(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def _transition_row(way: FlowTransition) -> tuple[str, str, str]:
    source = "(any state)" if way.kind == "global" else way.source
    target = "(stays)" if way.target == ANY_STATE else way.target
    return source, target, way.how


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def _percent(done: int, count: int) -> str:
    return f"{100 * done / count:.0f}%" if count else "100%"


def _untested_flows(session: ConversationSession) -> None:
    untested = [name for name in session.project.flow_names() if name not in session.flows]
    if untested:
        click.echo(f"flows with no conversation tests: {', '.join(untested)}")


def _diagrams(session: ConversationSession, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, flow in sorted(session.flows.items()):
        path = folder / f"{name}.coverage.mmd"
        path.write_text(mermaid(flow, coverage=session.coverage.get(name)), encoding="utf-8")
        click.echo(f"wrote {path}")
