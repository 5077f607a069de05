"""``dialplan rollout``: a candidate version of a flow for a share of its calls, then its fate.

``start`` declares the rollout in the project file, ``share`` changes its share, ``status``
shows how each arm does so far, ``promote`` makes the candidate the flow, ``rollback`` drops
it, and ``history`` lists what was done. Every change is an edit of the project and flow files
(:mod:`engine.rollout.edit`), the way a reviewed change would make it, and is logged in the
call log with its time and the user who ran it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from engine.errors import AuthoringErrors
from engine.flow import CompiledFlow
from engine.flow.source import read_source
from engine.insights.compare import compare
from engine.insights.stats import Difference
from engine.project import Project
from engine.records import Database, FlowVersions, RecordsError, RolloutChange, RolloutChanges
from engine.rollout.edit import (
    FileChange,
    entries,
    promote_file,
    promote_source,
    remove_candidate,
    write_rollouts,
)
from engine.rollout.project_file import VERSION_ID, Rollout, load_project_file, share_number

from . import _project
from ._settings import OperatorError, settings

F = TypeVar("F", bound=Callable[..., Any])


def _database_option(fn: F) -> F:
    return click.option(
        "--database", "database_url", metavar="URL", help="SQLAlchemy URL of the call log."
    )(fn)


@click.group()
def rollout() -> None:
    """Roll a candidate version of a flow out to a share of its calls; promote or roll back."""
    from engine.server.logs import configure

    configure("WARNING")  # what was done is the output, not the engine's log lines


# -- changes ------------------------------------------------------------------------------------


@rollout.command("start")
@click.argument("flow")
@click.option(
    "--candidate",
    required=True,
    metavar="FILE|VERSION",
    help="A second flow file of FLOW (e.g. flows/booking.next.yaml) or a version the call "
    "log keeps.",
)
@click.option(
    "--share",
    type=click.FloatRange(0, 100, min_open=True),
    required=True,
    help="Percent of FLOW's new calls the candidate answers.",
)
@_database_option
def start(flow: str, candidate: str, share: float, database_url: str | None) -> None:
    """Start a rollout: CANDIDATE answers SHARE percent of FLOW's new calls."""
    project = _project.project()
    stable = _project.open_flow(flow, project)
    path = project.project_file.path
    declared = entries(path)
    if flow in declared:
        raise click.ClickException(
            f"{flow} is rolled out already ({_entry(declared[flow])}): `dialplan rollout share` "
            "changes the share, `promote` or `rollback` ends it"
        )
    database = _change_log(database_url)
    try:
        written, version = _candidate(project, flow, candidate, path, database)
        change = write_rollouts(path, {**declared, flow: {"candidate": written, "share": share}})
        logged = _log(
            database,
            flow,
            "start",
            candidate=written,
            share=share_number(share),
            stable_version=stable.version,
            candidate_version=version,
            files=[change.as_json()],
        )
    finally:
        database.close()
    _done(
        logged,
        [change],
        f"{share_number(share)}% of {flow}'s new calls get {written} (version {version}); "
        f"the others {stable.loaded.path.name} (version {stable.version})",
    )


@rollout.command("share")
@click.argument("flow")
@click.argument("share", type=click.FloatRange(0, 100, min_open=True))
@_database_option
def change_share(flow: str, share: float, database_url: str | None) -> None:
    """Change the share of FLOW's new calls its rollout's candidate answers."""
    project = _project.project()
    rollout_ = _rollout(project, flow)
    path = project.project_file.path
    declared = entries(path)
    before = declared[flow].get("share")
    declared[flow] = {**declared[flow], "share": share}
    database = _change_log(database_url)
    try:
        change = write_rollouts(path, declared)
        logged = _log(
            database,
            flow,
            "share",
            candidate=rollout_.candidate,
            share=share_number(share),
            share_before=before,
            files=[change.as_json()],
        )
    finally:
        database.close()
    _done(
        logged, [change], f"{share_number(share)}% of {flow}'s new calls get {rollout_.candidate}"
    )


@rollout.command("promote")
@click.argument("flow")
@_database_option
def promote(flow: str, database_url: str | None) -> None:
    """Make FLOW's rollout candidate the flow: every new call gets it."""
    project = _project.project()
    rollout_ = _rollout(project, flow)
    stable = _project.open_flow(flow, project)
    database = _change_log(database_url)
    try:
        candidate = _open_candidate(project, rollout_, database)
        _keep(database, candidate)
        if rollout_.candidate_file is not None:
            changes = promote_file(stable.loaded.path, rollout_.candidate_file)
        else:
            source = read_source(candidate) or FlowVersions(database).get(candidate.version)
            assert source is not None  # it was just opened from the call log
            changes = promote_source(stable.loaded.path, project.prompts_dir, source)
        declared = {k: v for k, v in entries(project.project_file.path).items() if k != flow}
        changes.append(write_rollouts(project.project_file.path, declared))
        logged = _log(
            database,
            flow,
            "promote",
            candidate=rollout_.candidate,
            share=share_number(rollout_.share),
            stable_version=stable.version,
            candidate_version=candidate.version,
            files=[c.as_json() for c in changes],
        )
    finally:
        database.close()
    _done(
        logged,
        changes,
        f"every new call of {flow} gets version {candidate.version} (was {stable.version}); "
        "calls under way keep theirs",
    )


@rollout.command("rollback")
@click.argument("flow")
@_database_option
def rollback(flow: str, database_url: str | None) -> None:
    """End FLOW's rollout: every new call gets the flow as it is; the candidate goes."""
    project = _project.project()
    rollout_ = _rollout(project, flow)
    stable = _project.open_flow(flow, project)
    database = _change_log(database_url)
    try:
        changes: list[FileChange] = []
        version = rollout_.candidate_version
        if rollout_.candidate_file is not None:
            version, change = _drop_candidate(project, rollout_.candidate_file, database)
            changes.append(change)
        declared = {k: v for k, v in entries(project.project_file.path).items() if k != flow}
        changes.append(write_rollouts(project.project_file.path, declared))
        logged = _log(
            database,
            flow,
            "rollback",
            candidate=rollout_.candidate,
            share=share_number(rollout_.share),
            stable_version=stable.version,
            candidate_version=version,
            files=[c.as_json() for c in changes],
        )
    finally:
        database.close()
    _done(logged, changes, f"every new call of {flow} gets version {stable.version}")


def _drop_candidate(
    project: Project, candidate: Path, database: Database
) -> tuple[str | None, FileChange]:
    """Remove the candidate file, its text kept in the call log (or beside it, if it is broken)."""
    try:
        compiled = project.registry.compile(candidate)
    except AuthoringErrors:
        kept = candidate.with_name(candidate.name + ".rolled-back")
        candidate.replace(kept)  # a broken file has no version to keep: keep the file itself
        return None, FileChange(candidate, f"renamed to {kept.name} (it does not load)")
    _keep(database, compiled)
    return compiled.version, remove_candidate(candidate, compiled.version)


# -- reading --------------------------------------------------------------------------------------


@rollout.command("status")
@click.argument("flow", required=False)
@_database_option
@click.option("--json", "as_json", is_flag=True, help="JSON, for tools.")
def status(flow: str | None, database_url: str | None, as_json: bool) -> None:
    """The rollouts in force (of FLOW): candidate, share, and how each arm's calls end so far."""
    project = _project.project()
    if project.project_errors:
        raise click.ClickException("\n".join(str(e) for e in project.project_errors))
    rollouts = {
        name: r for name, r in project.project_file.rollouts.items() if flow in (None, name)
    }
    database = _change_log(database_url)
    try:
        reports = [_status(project, database, r) for r in rollouts.values()]
    finally:
        database.close()
    if as_json:
        click.echo(orjson.dumps(reports, option=orjson.OPT_INDENT_2).decode())
        return
    if not reports:
        click.echo("no rollouts" + (f" of {flow}" if flow else ""))
    for report in reports:
        click.echo(_status_text(report))


def _status(project: Project, database: Database, rollout_: Rollout) -> dict[str, Any]:
    stable = _project.open_flow(rollout_.flow, project)
    try:
        candidate: CompiledFlow | None = _open_candidate(project, rollout_, database)
        problem = None
    except click.ClickException as exc:
        candidate, problem = None, exc.message
    started = next(
        (c for c in RolloutChanges(database).history(rollout_.flow) if c.action == "start"), None
    )
    calls = database.calls(flow=rollout_.flow, since=started.at if started else None)
    arms: dict[str, Any] = {}
    in_rollout = [r for r in calls if r.rollout]
    for arm in ("stable", "candidate"):
        mine = [r for r in in_rollout if r.rollout and r.rollout.get("arm") == arm]
        summary = compare(rollout_.flow, mine).versions
        completed = [v.outcomes["completed"] for v in summary]
        hits = sum(p.hits for p in completed)
        arms[arm] = {"calls": len(mine), "completed": hits}
    return {
        **rollout_.as_json(),
        "stable_version": stable.version,
        "candidate_version": candidate.version if candidate else None,
        "problem": problem,
        "started": started.as_json() if started else None,
        "arms": arms,
    }


def _status_text(report: Mapping[str, Any]) -> str:
    lines = [
        f"{report['flow']}: {report['candidate']} (version {report['candidate_version'] or '?'}) "
        f"answers {report['share']}% of new calls; the others get version "
        f"{report['stable_version']}"
    ]
    if report["problem"]:
        lines.append(f"  problem: {report['problem']}")
    started = report["started"]
    if started:
        lines.append(f"  started {started['at'][:19]} by {started['user']}")
    from engine.insights.stats import Proportion

    stable, candidate = report["arms"]["stable"], report["arms"]["candidate"]
    a = Proportion(candidate["completed"], candidate["calls"])
    b = Proportion(stable["completed"], stable["calls"])
    for name, arm in (("stable", b), ("candidate", a)):
        low, high = arm.interval
        done = f"{arm.rate:.0%} completed (95 % interval {low:.0%}-{high:.0%})" if arm.total else ""
        lines.append(f"  {name:<9} {arm.total} call(s)  {done}".rstrip())
    if a.total and b.total:
        d = Difference(a, b)
        low, high = d.interval
        lines.append(
            f"  candidate against stable: {d.value * 100:+.0f} pts completed "
            f"({low * 100:+.0f} to {high * 100:+.0f}): {d.verdict}; "
            f"`dialplan calls compare {report['flow']}` has more"
        )
    return "\n".join(lines)


@rollout.command("history")
@click.argument("flow", required=False)
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many.")
@_database_option
@click.option("--json", "as_json", is_flag=True, help="JSON, for tools.")
def history(flow: str | None, limit: int, database_url: str | None, as_json: bool) -> None:
    """The rollout changes (of FLOW), newest first: when, who, what."""
    database = _change_log(database_url)
    try:
        changes = RolloutChanges(database).history(flow, limit)
    finally:
        database.close()
    if as_json:
        data = [c.as_json() for c in changes]
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    if not changes:
        click.echo("no rollout changes" + (f" of {flow}" if flow else ""))
    for change in changes:
        click.echo(_history_line(change))


def _history_line(change: RolloutChange) -> str:
    when = change.at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if change.at else "-"
    details = change.details
    what = {
        "start": f"started: {details.get('candidate')} for {details.get('share')}%",
        "share": f"share {details.get('share_before')}% -> {details.get('share')}%",
        "promote": f"promoted {details.get('candidate')}: version "
        f"{details.get('stable_version')} -> {details.get('candidate_version')}",
        "rollback": f"rolled back {details.get('candidate')} "
        f"(version {details.get('candidate_version')})",
    }.get(change.action, change.action)
    return f"{when}  {change.user:<12} {change.flow:<16} {what}"


# -- helpers --------------------------------------------------------------------------------------


def _change_log(url: str | None) -> Database:
    """The call log, where rollout changes are logged (created if there is none yet)."""
    url = url if url is not None else settings().database_url
    if not url:
        raise OperatorError(
            ["rollout changes are logged in the call log: DIALPLAN_DATABASE_URL is empty"]
        )
    database = Database(url)
    try:
        database.migrate()
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    return database


def _rollout(project: Project, flow: str) -> Rollout:
    try:
        checked = load_project_file(project.project_file.path)
    except AuthoringErrors as exc:
        raise click.ClickException(f"{project.project_file.path} has errors:\n{exc}") from None
    found = checked.rollouts.get(flow)
    if found is None:
        raise click.ClickException(
            f"{flow} has no rollout in {project.project_file.path} "
            f"(`dialplan rollout start {flow} --candidate FILE --share N` starts one)"
        )
    return found


def _candidate(
    project: Project, flow: str, candidate: str, path: Path, database: Database
) -> tuple[str, str]:
    """The candidate as the project file will name it, and its version; checked."""
    if VERSION_ID.match(candidate):
        opened = _open_candidate(project, Rollout(flow, 1, candidate_version=candidate), database)
        return candidate, opened.version
    file = Path(candidate).resolve()
    opened = _open_candidate(project, Rollout(flow, 1, candidate_file=file), database)
    return os.path.relpath(file, path.parent.resolve()), opened.version


def _open_candidate(project: Project, rollout_: Rollout, database: Database) -> CompiledFlow:
    """The candidate compiled (a clear error when it does not load or is another flow)."""
    if rollout_.candidate_file is not None:
        if not rollout_.candidate_file.is_file():
            raise click.ClickException(f"no candidate file {rollout_.candidate_file}")
        try:
            flow = project.registry.compile(rollout_.candidate_file)
        except AuthoringErrors as exc:
            raise click.ClickException(f"the candidate does not load:\n{exc}") from None
    else:
        assert rollout_.candidate_version is not None
        source = FlowVersions(database).get(rollout_.candidate_version)
        if source is None:
            raise click.ClickException(
                f"the call log keeps no version {rollout_.candidate_version} "
                f"(`dialplan calls versions {rollout_.flow}` lists them)"
            )
        try:
            flow = project.open_source(source)
        except AuthoringErrors as exc:
            raise click.ClickException(f"the candidate no longer loads:\n{exc}") from None
    if flow.name != rollout_.flow:
        raise click.ClickException(
            f"the candidate is flow {flow.name!r}, not {rollout_.flow!r} "
            f"(a candidate is a version of the flow it replaces: `flow: {rollout_.flow}`)"
        )
    return flow


def _keep(database: Database, flow: CompiledFlow) -> None:
    """Keep the version in the call log (a candidate that never served would be lost)."""
    source = read_source(flow)
    if source is not None:
        FlowVersions(database).keep(source)


def _log(database: Database, flow: str, action: str, **details: Any) -> RolloutChange:
    return RolloutChanges(database).add(RolloutChange(flow, action, details))


def _entry(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('candidate')} for {entry.get('share')}%"


def _done(change: RolloutChange, files: list[FileChange], summary: str) -> None:
    for file in files:
        click.echo(f"{file.path}: {file.what}")
    click.echo(summary)
    click.echo(f"logged in the call log: {change.action} of {change.flow} by {change.user}")
