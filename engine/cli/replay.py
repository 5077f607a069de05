"""``dialplan replay``: whether recorded calls would still work with a version of their flow.

Plays recorded calls (from the call log, or a ``calls export --format jsonl --reveal`` file)
against the working tree's flow, or a version the call log keeps, and says per call whether
it went the same way, changed, or diverged; then the outcomes before and after. The exit
status is 1 when a call ends worse than it did (with ``--strict``, also when one diverged), so
CI can gate a flow change on last week's calls.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import orjson

from engine.errors import AuthoringErrors
from engine.flow import CompiledFlow
from engine.flow.source import FlowSource
from engine.project import Project
from engine.records import OUTCOMES, CallRecord, Database, FlowVersions
from engine.replay.batch import Baseline, Replay, Summary, recorded_versions
from engine.replay.play import Player
from engine.replay.source import ExportError, read_export, select
from engine.replay.verdict import Verdict

from . import _project
from ._settings import OperatorError
from .calls import database_at, parse_since
from .chat import Provider, _Models

DIFFS = 10
"""Changed and diverged calls whose diff is shown by default."""


@click.command("replay")
@click.argument("flow", required=False)
@click.option(
    "--flow-version",
    "against",
    metavar="VERSION",
    help="Play against this version the call log keeps instead of the working tree's flow.",
)
@click.option(
    "--from",
    "export",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Calls from a `dialplan calls export --format jsonl --reveal` file, not the call log.",
)
@click.option(
    "--recorded-version",
    "versions",
    multiple=True,
    metavar="VERSION",
    help="Only calls that ran this flow version (repeatable).",
)
@click.option("--since", metavar="WHEN", help="Only calls started since: 2h, 3d, 1w, or a date.")
@click.option("--until", metavar="WHEN", help="Only calls started before: 2h, 3d, or a date.")
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=click.Choice(OUTCOMES),
    help="Only calls that ended so (repeatable).",
)
@click.option("--call", "call_ids", multiple=True, metavar="CALL_ID", help="Only this call.")
@click.option(
    "--limit", type=int, default=1000, show_default=True, help="At most this many (newest) calls."
)
@click.option(
    "--baseline",
    type=click.Choice(["recorded", "replay"]),
    default="recorded",
    show_default=True,
    help="Compare with what each call did, or with a replay of the version it ran (kept in "
    "the call log): that leaves out every difference but the flow's.",
)
@click.option(
    "--live-actions", is_flag=True, help="Run actions for real instead of their recorded results."
)
@click.option(
    "--provider",
    type=click.Choice(["auto", "openai", "azure", "none", "test"]),
    default="auto",
    show_default=True,
    help="The model: the configured one (auto), a provider, or none.",
)
@click.option("--strict", is_flag=True, help="Exit 1 when a call diverged, too.")
@click.option("--diffs", type=int, default=DIFFS, show_default=True, help="Diffs to show.")
@click.option("--json", "as_json", is_flag=True, help="Every call's verdict as JSON.")
@click.option("--reveal", is_flag=True, help="Show sensitive values instead of ***.")
@click.option("--database", "database_url", metavar="URL", help="SQLAlchemy URL of the call log.")
def replay(
    flow: str | None,
    against: str | None,
    export: Path | None,
    versions: tuple[str, ...],
    since: str | None,
    until: str | None,
    outcomes: tuple[str, ...],
    call_ids: tuple[str, ...],
    limit: int,
    baseline: Baseline,
    live_actions: bool,
    provider: Provider,
    strict: bool,
    diffs: int,
    as_json: bool,
    reveal: bool,
    database_url: str | None,
) -> None:
    """Play recorded calls against FLOW (the working tree's) or --flow-version.

    Each caller turn of each call is given again, turn by turn; actions answer with their
    recorded results (--live-actions runs them); the model is the configured one, if any.
    Per call: same (path, slots and outcome), changed (how), or diverged at turn N (the new
    version asked something the recorded answer no longer fits). Exit status 1 when a call
    ends worse than it did (--strict: or diverged).
    """
    from engine.server.logs import configure

    configure("WARNING")  # the report is the output, not the engine's log lines
    if flow is None and against is None:
        raise OperatorError(["name a FLOW (or a flow file), or give --flow-version"])
    project = _project.project()
    with ExitStack() as stack:
        database = _optional_database(database_url, needed=export is None or bool(against))
        if database is not None:
            stack.callback(database.close)
        target = _target(project, flow, against, database)
        records = _records(
            database, export, target.name, versions, since, until, outcomes, call_ids, limit
        )
        summary = _run(project, target, records, database, baseline, live_actions, provider, reveal)
    if as_json:
        click.echo(orjson.dumps(summary.as_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        _report(summary, target, records, diffs, live_actions)
    failed = bool(summary.worse) or (strict and summary.count("diverged") > 0)
    sys.exit(1 if failed else 0)


def _optional_database(url: str | None, *, needed: bool) -> Database | None:
    if needed:
        return database_at(url)
    try:
        return database_at(url)
    except click.ClickException:
        return None  # a replay of an export needs no call log (but a replayed baseline does)


def _target(
    project: Project, flow: str | None, against: str | None, database: Database | None
) -> CompiledFlow:
    """The flow version calls are played against."""
    if against is None:
        assert flow is not None
        return _project.open_flow(flow, project)
    assert database is not None
    source = FlowVersions(database).get(against)
    if source is None:
        raise click.ClickException(
            f"the call log keeps no flow version {against!r} "
            "(`dialplan calls versions FLOW` lists the versions kept)"
        )
    if flow is not None and not flow.endswith((".yaml", ".yml")) and flow != source.flow:
        raise click.ClickException(f"version {against} is of flow {source.flow!r}, not {flow!r}")
    return _compiled(project, source)


def _compiled(project: Project, source: FlowSource) -> CompiledFlow:
    try:
        return project.open_source(source)
    except AuthoringErrors as exc:
        raise click.ClickException(
            f"flow version {source.version} no longer loads here:\n{exc}"
        ) from None


def _records(
    database: Database | None,
    export: Path | None,
    flow: str,
    versions: Sequence[str],
    since: str | None,
    until: str | None,
    outcomes: Sequence[str],
    call_ids: Sequence[str],
    limit: int,
) -> list[CallRecord]:
    filters: dict[str, Any] = {
        "flow": flow,
        "versions": versions,
        "since": parse_since(since) if since else None,
        "until": parse_since(until) if until else None,
        "outcomes": outcomes,
        "call_ids": list(call_ids) or None,
        "limit": limit,
    }
    if export is not None:
        try:
            found = select(read_export(export), **filters)
        except ExportError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        assert database is not None
        found = database.calls(**filters)
    missing = sorted(set(call_ids) - {record.call_id for record in found})
    if missing:
        where = export or "the call log"
        raise click.ClickException(
            f"no call {', '.join(missing)} of flow {flow!r} in {where} (with these filters)"
        )
    return list(reversed(found))  # oldest first: the order the calls were made


def _run(
    project: Project,
    target: CompiledFlow,
    records: list[CallRecord],
    database: Database | None,
    baseline: Baseline,
    live_actions: bool,
    provider: Provider,
    reveal: bool,
) -> Summary:
    settings = project.settings
    kept: dict[str, CompiledFlow | None] = {}

    def open_version(version: str) -> CompiledFlow | None:
        if version == target.version:
            return target
        if version not in kept:
            source = FlowVersions(database).get(version) if database is not None else None
            kept[version] = _compiled(project, source) if source is not None else None
        return kept[version]

    with asyncio.Runner() as loop, _Models(loop, settings, provider) as models:
        player = Player(models.model, live_actions, settings.today, settings.time_zone)
        replay = Replay(target, player, baseline, open_version, reveal)
        with _Progress(len(records)) as tick:
            return loop.run(replay.run(records, tick))


class _Progress:
    """A progress bar on stderr, only where a person watches (a terminal)."""

    def __init__(self, length: int) -> None:
        self.bar: Any = None
        if sys.stderr.isatty() and length > 1:
            self.bar = click.progressbar(
                length=length, label="replaying", file=sys.stderr, show_pos=True, show_eta=True
            )

    def __enter__(self) -> Callable[[], None]:
        if self.bar is None:
            return lambda: None
        bar = self.bar.__enter__()
        return lambda: bar.update(1)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# -- the report ---------------------------------------------------------------------------------


def _report(
    summary: Summary,
    target: CompiledFlow,
    records: Sequence[CallRecord],
    diffs: int,
    live_actions: bool,
) -> None:
    ran = recorded_versions(records)
    versions = ", ".join(f"{version} x{count}" for version, count in ran.most_common())
    actions = "run for real" if live_actions else "answered with their recorded results"
    click.echo(
        f"replayed {len(records)} call(s) of {target.name} "
        f"(recorded on {versions or 'no version'}) against {target.loaded.path.name} "
        f"version {target.version}; baseline: {summary.baseline}; actions {actions}"
    )
    notable = [verdict for verdict in summary.verdicts if verdict.kind != "same"]
    for verdict in notable:
        click.echo(_line(verdict))
    for skipped in summary.skipped:
        click.echo(f"{'skipped':<18} {skipped.call_id}  {skipped.reason}")
    for verdict in notable[:diffs]:
        click.echo("")
        click.echo(f"--- {verdict.call_id} ({_kind(verdict)})")
        for note in verdict.notes:
            click.echo(f"  note: {note}")
        if verdict.kind == "changed" and verdict.path_before != verdict.path_after:
            click.echo("  path before: " + " -> ".join(verdict.path_before))
            click.echo("  path after:  " + " -> ".join(verdict.path_after))
        for line in verdict.diff:
            click.echo(f"  {line}")
    if len(notable) > diffs:
        click.echo(f"\n({len(notable) - diffs} more diff(s): --diffs {len(notable)} shows them)")
    click.echo("")
    click.echo(_summary(summary))


def _kind(verdict: Verdict) -> str:
    if verdict.divergence is not None:
        return f"diverged at turn {verdict.divergence.turn}"
    return verdict.kind


def _line(verdict: Verdict) -> str:
    head = f"{_kind(verdict):<18} {verdict.call_id}"
    divergence = verdict.divergence
    if divergence is not None:
        return (
            f"{head}  the new version asks ({divergence.asked_after}) "
            f"{_quote(divergence.question_after)}; the caller's recorded answer (to "
            f"{divergence.asked_before}: {_quote(divergence.question_before)}) was "
            f"{_quote(divergence.answer)}"
        )
    facts = []
    if verdict.outcome_after != verdict.outcome_before:
        worse = "  WORSE" if verdict.worse else ""
        facts.append(f"outcome {verdict.outcome_before} -> {verdict.outcome_after}{worse}")
    for name, (before, after) in verdict.slots.items():
        facts.append(f"{name} {_value(before)} -> {_value(after)}")
    if verdict.path_before != verdict.path_after and not verdict.slots:
        facts.append("another path")
    return f"{head}  {'; '.join(facts)}"


def _summary(summary: Summary) -> str:
    calls = len(summary.verdicts)
    lines = [
        f"{calls} call(s): {summary.count('same')} same, {summary.count('changed')} changed, "
        f"{summary.count('diverged')} diverged"
        + (f" ({len(summary.skipped)} skipped)" if summary.skipped else "")
    ]
    before, after = summary.outcomes()
    lines.append(f"  {'outcome':<12} {'before':>7} {'after':>7}")
    for outcome in OUTCOMES:
        if before[outcome] or after[outcome]:
            lines.append(f"  {outcome:<12} {before[outcome]:>7} {after[outcome]:>7}")
    if after["diverged"]:
        lines.append(
            f"  {'diverged':<12} {'-':>7} {after['diverged']:>7}   (not comparable after the "
            "turn they diverge at)"
        )
    worse = summary.worse
    if worse:
        shown = ", ".join(
            f"{v.call_id} ({v.outcome_before} -> {v.outcome_after})" for v in worse[:10]
        )
        more = f" and {len(worse) - 10} more" if len(worse) > 10 else ""
        lines.append(f"{len(worse)} call(s) end worse than they did: {shown}{more}")
    elif calls:
        better = len(summary.better)
        lines.append("no call ends worse" + (f"; {better} end better" if better else ""))
    return "\n".join(lines)


def _quote(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
