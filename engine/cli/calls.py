"""``dialplan calls``: read the call log: list calls, show one, export them for a spreadsheet.

Sensitive slot values (``sensitive: true`` in the flow), and the caller's words that gave
them, are masked unless ``--reveal`` is given.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
import orjson

from engine.records import (
    OUTCOMES,
    CallRecord,
    Database,
    FlowVersions,
    RecordsError,
    TurnRecord,
    masked,
)
from engine.records.export import export

from . import _settings
from ._group import LazyCommand, LazyGroup
from ._settings import OperatorError
from ._values import shown

F = TypeVar("F", bound=Callable[..., Any])

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2h``, ``90m``, ``3d``, ``1w`` ago, or an ISO date or time (local time if no zone)."""
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a time like 2026-11-25 or 2026-11-25T14:30 nor like 2h, 3d"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def database_at(url: str | None) -> Database:
    """The call log at ``url`` (default: the settings'), migrated; a clear error without one."""
    url = url if url is not None else _settings.settings().database_url
    if not url:
        raise OperatorError(["no call log: DIALPLAN_DATABASE_URL is empty"])
    database = Database(url)
    file = database.sqlite_file()
    if file is not None and not file.exists():
        raise click.ClickException(
            f"no call log at {file}: run this where `dialplan serve` runs, or set "
            "DIALPLAN_DATABASE_URL (or --database)"
        )
    try:
        database.migrate()
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    return database


def _common(fn: F) -> F:
    fn = click.option(
        "--database",
        "database_url",
        metavar="URL",
        help="SQLAlchemy URL of the call log [default: DIALPLAN_DATABASE_URL, sqlite:///dialplan.db].",
    )(fn)
    return click.option(
        "--reveal", is_flag=True, help="Show the values of sensitive slots instead of ***."
    )(fn)


def _filters(fn: F) -> F:
    fn = click.option("--flow", help="Only calls of this flow.")(fn)
    fn = click.option(
        "--since", metavar="WHEN", help="Only calls started since: 2h, 3d, 1w, or an ISO date/time."
    )(fn)
    return click.option(
        "--outcome",
        "outcomes",
        multiple=True,
        type=click.Choice(OUTCOMES),
        help="Only calls that ended so (repeatable).",
    )(fn)


def _records(
    database_url: str | None,
    flow: str | None,
    since: str | None,
    outcomes: tuple[str, ...],
    reveal: bool,
    limit: int | None = None,
) -> list[CallRecord]:
    database = database_at(database_url)
    try:
        found = database.calls(
            flow=flow,
            since=parse_since(since) if since else None,
            outcomes=outcomes,
            limit=limit,
        )
    finally:
        database.close()
    return found if reveal else [masked(record) for record in found]


INSIGHTS = {
    "compare": LazyCommand(
        "engine.cli.insights",
        "compare_versions",
        "FLOW's versions side by side: outcomes with 95 % intervals, turns, duration, model use.",
    ),
    "funnel": LazyCommand(
        "engine.cli.insights",
        "show_funnel",
        "Where FLOW's callers drop: per state, calls entered, left and ended (by outcome).",
    ),
    "redeliver": LazyCommand(
        "engine.cli.redeliver",
        "redeliver",
        "List the webhook events that failed or were given up; send chosen ones again.",
    ),
}
"""Subcommands of their own module, loaded when they run (they import the flows' engine)."""


@click.group(cls=LazyGroup, lazy=INSIGHTS)
def calls() -> None:
    """Read the call log: what each call collected and how it went."""


@calls.command("list")
@_filters
@_common
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many calls.")
@click.option("--json", "as_json", is_flag=True, help="JSON (without transcripts and turns).")
def list_calls(
    database_url: str | None,
    reveal: bool,
    flow: str | None,
    since: str | None,
    outcomes: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """The latest calls, newest first, with what they collected."""
    found = _records(database_url, flow, since, outcomes, reveal, limit)
    if as_json:
        rows = [r.model_dump(mode="json", exclude={"transcript", "turns"}) for r in found]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not found:
        click.echo("no calls")
        return
    table = [("started", "call", "flow", "outcome", "duration", "slots")]
    for record in found:
        table.append(
            (
                _local(record.started_at),
                record.call_id,
                record.flow or "-",
                record.outcome,
                _duration(record.duration_s),
                ", ".join(f"{k}={_short(v)}" for k, v in record.slots.items() if v is not None),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[5]]))


@calls.command("show")
@click.argument("call_id")
@_common
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
@click.option(
    "--flow-text",
    is_flag=True,
    help="The flow file and templates of the version the call ran, as the call log keeps them.",
)
def show_call(
    call_id: str, database_url: str | None, reveal: bool, as_json: bool, flow_text: bool
) -> None:
    """One call's record: details, slots, path, actions, transcript and turns."""
    database = database_at(database_url)
    try:
        record = database.call(call_id)
        source = None
        if record is not None and flow_text and record.flow_version:
            source = FlowVersions(database).get(record.flow_version)
    finally:
        database.close()
    if record is None:
        raise click.ClickException(f"no call {call_id!r} in the call log")
    if flow_text:
        if source is None:
            raise click.ClickException(
                f"the call log keeps no text of flow version {record.flow_version or '(none)'} "
                "(versions are kept from the server that serves them onwards)"
            )
        for file in source.files:
            folder = "flows" if file.role == "flow" else "prompts"
            click.echo(f"==> {folder}/{file.path} (version {source.version}) <==")
            click.echo(file.text.rstrip("\n"))
        return
    record = record if reveal else masked(record)
    if as_json:
        click.echo(orjson.dumps(record.to_json(), option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(_story(record))


@calls.command("export")
@_filters
@_common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="csv: one row per call, one column per slot; jsonl: one whole record per line.",
)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), help="File to write.")
def export_calls(
    database_url: str | None,
    reveal: bool,
    flow: str | None,
    since: str | None,
    outcomes: tuple[str, ...],
    fmt: str,
    output: TextIO | None,
) -> None:
    """Every call (matching the filters), oldest first, for a spreadsheet or a script."""
    found = list(reversed(_records(database_url, flow, since, outcomes, reveal)))
    out = output or sys.stdout
    out.write(export(found, "jsonl" if fmt == "jsonl" else "csv"))
    if output is not None:
        click.echo(f"{len(found)} call(s) written to {output.name}", err=True)


@calls.command("versions")
@click.argument("flow", required=False)
@click.option("--database", "database_url", metavar="URL", help="SQLAlchemy URL of the call log.")
@click.option("--json", "as_json", is_flag=True, help="JSON.")
def list_versions(flow: str | None, database_url: str | None, as_json: bool) -> None:
    """The flow versions the call log keeps (of FLOW), newest first, with their calls."""
    database = database_at(database_url)
    try:
        versions = FlowVersions(database)
        kept = versions.of_flow(flow)
        counts = versions.calls_per_version(flow)
    finally:
        database.close()
    rows = [
        {
            "flow": v.flow,
            "version": v.version,
            "first_served": v.first_seen_at.isoformat(),
            "calls": counts.get(v.version, 0),
        }
        for v in kept
    ]
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not rows:
        click.echo("no flow versions kept" + (f" of {flow}" if flow else ""))
        return
    table = [("flow", "version", "first served", "calls")]
    table += [
        (v.flow, v.version, _local(v.first_seen_at), str(counts.get(v.version, 0))) for v in kept
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@calls.command("to-test")
@click.argument("call_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it [default: tests/conversations/<flow>_<call_id>.yaml]; - for stdout.",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@click.option("--database", "database_url", metavar="URL", help="SQLAlchemy URL of the call log.")
def to_test(call_id: str, output: Path | None, force: bool, database_url: str | None) -> None:
    """Write a conversation test from a recorded call (sensitive values as placeholders)."""
    from engine.replay.to_test import conversation_test

    from .to_test import call_day, prompt_states

    database = database_at(database_url)
    try:
        record = database.call(call_id)
    finally:
        database.close()
    if record is None:
        raise click.ClickException(f"no call {call_id!r} in the call log")
    if record.flow is None:
        raise click.ClickException(f"call {call_id!r} ran no flow: there is nothing to test")
    try:
        text = conversation_test(
            record, today=call_day(record), prompt_states=prompt_states(record.flow)
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if output is not None and str(output) == "-":
        click.echo(text, nl=False)
        return
    target = output or Path("tests/conversations") / f"{record.flow}_{_file_safe(call_id)}.yaml"
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists (--force overwrites it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}: run it with `dialplan test {target}`")


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "call"


# -- formatting ---------------------------------------------------------------------------------


def _story(record: CallRecord) -> str:
    lines = [f"call {record.call_id}   {record.flow or '(no flow)'}   {record.outcome}"]
    if record.flow_version:
        lines.append(f"  flow version   {record.flow_version}")
    ended = _local(record.ended_at) if record.ended_at else "(still going)"
    lines.append(
        f"  started {_local(record.started_at)}   ended {ended}   {_duration(record.duration_s)}"
    )
    who = [f"from {record.from_number}" if record.from_number else ""]
    who += [f"to {record.to_number}" if record.to_number else ""]
    who += [f"({', '.join(x for x in (record.direction, record.call_type) if x)})"]
    if any(who[:2]):
        lines.append("  " + " ".join(w for w in who if w and w != "()"))
    if record.placed is not None:
        batch = (
            f" as row {record.placed.row} of batch {record.placed.batch!r}"
            if record.placed.batch
            else ""
        )
        lines.append(
            f"  placed by dialplan call{batch} at {_local(record.placed.placed_at)} "
            f"({record.placed.id})"
        )
    if record.transfer_number:
        lines.append(f"  transferred to {record.transfer_number}")
    if record.error:
        lines.append(f"  error: {record.error}")
    for title, mapping in (("metadata", record.metadata), ("variables", record.dynamic_variables)):
        if mapping:
            lines.append(f"  {title}  {_json(mapping)}")
    lines.extend(_platform(record))
    lines.append("slots:")
    width = max((len(name) for name in record.slots), default=0)
    for name, value in record.slots.items():
        note = "   (sensitive)" if name in record.sensitive else ""
        lines.append(f"  {name.ljust(width)}  {shown(value)}{note}")
    if not record.slots:
        lines.append("  (none)")
    if record.path:
        lines.append("path: " + " -> ".join(record.path))
    if record.actions:
        lines.append("actions:")
        for action in record.actions:
            ok = {True: "ok", False: "failed", None: "running"}[action.get("ok")]
            lines.append(
                f"  {action.get('name')} in {action.get('state')}: {ok}  "
                f"{_json(action.get('arguments'))} -> {_json(action.get('result'))}"
            )
    lines.append("transcript:")
    for utterance in record.transcript:
        role = "caller" if utterance.get("role") == "user" else utterance.get("role", "?")
        lines.append(f"  {role + ':':7} {utterance.get('content', '')}")
    lines.append("turns:")
    lines.extend(_turn(turn) for turn in record.turns)
    return "\n".join(lines)


def _platform(record: CallRecord) -> list[str]:
    """What the platform's events said of the call (its webhook), if any came."""
    report = record.platform
    if report is None:
        return []
    head = f"platform: {', '.join(report.events)}"
    facts = [
        f"status {report.call_status}" if report.call_status else "",
        f"ended by {report.disconnection_reason}" if report.disconnection_reason else "",
        _duration(report.duration_ms / 1000) if report.duration_ms is not None else "",
        f"cost {report.cost}" if report.cost is not None else "",
    ]
    lines = [head + "".join(f"   {fact}" for fact in facts if fact)]
    if report.transfer_destination:
        lines.append(f"  transfer to {report.transfer_destination}")
    if report.recording_url:
        lines.append(f"  recording  {report.recording_url}")
    if report.public_log_url:
        lines.append(f"  log        {report.public_log_url}")
    for name, value in (report.analysis or {}).items():
        if value not in (None, "", {}):
            lines.append(f"  {name}  {shown(value)}")
    return lines


def _turn(turn: TurnRecord) -> str:
    head = f"  #{turn.response_id} {turn.kind}"
    if turn.outcome != "complete":
        head += f" ({turn.outcome})"
    if turn.state_before or turn.state_after:
        head += f"  {turn.state_before or '?'} -> {turn.state_after or '?'}"
    if turn.plan:
        head += f"  [{turn.plan}]"
    details = []
    for found in turn.understood:
        value = f"={_short(found.get('value'))}" if found.get("kind") == "slot" else ""
        details.append(f"{found.get('kind')} {found.get('name')}{value} by {found.get('by')}")
    for move in turn.moves:
        details.append(f"entered {move.get('target')} ({move.get('how')})")
    details.extend(f"refused: {reason}" for reason in turn.refused)
    if turn.gave_up:
        details.append("gave up")
    model = turn.model
    if model:
        tokens = ""
        if model.get("prompt_tokens") is not None:
            tokens = f", {model['prompt_tokens']}+{model.get('completion_tokens')} tokens"
        details.append(
            f"model: {model.get('requests')} request(s){tokens}, first token "
            f"{model.get('first_token_ms')} ms, {model.get('total_ms')} ms in all"
        )
    elif turn.kind != "greeting":
        details.append("no model")
    if turn.first_speech_ms is not None:
        details.append(f"first speech {turn.first_speech_ms} ms")
    if turn.end_call:
        details.append("hangs up")
    if turn.transfer_number:
        details.append(f"transfers to {turn.transfer_number}")
    if turn.error:
        details.append(f"error: {turn.error}")
    lines = [head]
    if turn.said:
        lines.append(f"      agent: {turn.said}")
    if details:
        lines.append("      " + "; ".join(details))
    return "\n".join(lines)


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def _short(value: Any, limit: int = 40) -> str:
    text = shown(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
