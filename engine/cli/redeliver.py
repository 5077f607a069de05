"""``dialplan calls redeliver``: webhook events that failed or were given up, sent again.

Without arguments it lists them, each with why its last attempt failed, and sends nothing.
Given event ids, call ids (``--call``) or ``--all``, it queues those events again: each keeps
its id and body, and a running server (any worker of any host on the same call log) sends it
within seconds, with every attempt anew.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
import orjson

from engine.records import Outbox
from engine.records.outbox import EventStatus

from .calls import database_at, parse_since


@click.command("redeliver")
@click.argument("event_ids", nargs=-1, metavar="[EVENT_ID]...")
@click.option(
    "--call",
    "call_ids",
    multiple=True,
    metavar="CALL_ID",
    help="Every event of this call (repeatable).",
)
@click.option("--all", "everything", is_flag=True, help="Every event that failed or was given up.")
@click.option(
    "--since", metavar="WHEN", help="Only events queued since: 2h, 3d, 1w, or an ISO date/time."
)
@click.option("--database", "database_url", metavar="URL", help="SQLAlchemy URL of the call log.")
@click.option("--json", "as_json", is_flag=True, help="The events as JSON.")
def redeliver(
    event_ids: tuple[str, ...],
    call_ids: tuple[str, ...],
    everything: bool,
    since: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """List the webhook events that failed or were given up; send chosen ones again."""
    database = database_at(database_url)
    try:
        outbox = Outbox(database)
        moment = parse_since(since) if since else None
        troubled = outbox.troubled(since=moment)
        chosen = list(event_ids)
        for call_id in call_ids:
            chosen += [event.id for event in outbox.of_call(call_id)]
        if everything:
            chosen += [event.id for event in troubled]
        if not chosen:
            _show(troubled, as_json)
            if troubled and not as_json:
                click.echo(
                    "send them again with `dialplan calls redeliver --all`, or name events "
                    "(EVENT_ID) or calls (--call CALL_ID)",
                    err=True,
                )
            return
        found = outbox.redeliver(chosen, datetime.now(UTC))
    finally:
        database.close()
    missing = [event_id for event_id in dict.fromkeys(chosen) if event_id not in found]
    for event_id in missing:
        click.echo(f"no webhook event {event_id!r} in the call log", err=True)
    if as_json:
        click.echo(orjson.dumps({"queued": found, "missing": missing}).decode())
    else:
        click.echo(
            f"{len(found)} event(s) queued again: a server with the webhook configured sends "
            "them within seconds (same ids and bodies: receivers de-duplicate)"
        )
    if missing:
        raise SystemExit(1)


def _show(events: list[EventStatus], as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "id": e.id,
                "call_id": e.call_id,
                "event": e.event,
                "state": e.state,
                "attempts": e.attempts,
                "last_error": e.last_error,
                "created_at": e.created_at.isoformat(),
                "next_at": e.next_at.isoformat() if e.next_at else None,
                "failed_at": e.failed_at.isoformat() if e.failed_at else None,
                "requeues": e.requeues,
            }
            for e in events
        ]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not events:
        click.echo("no webhook event failed or was given up")
        return
    table = [("event", "call", "kind", "state", "attempts", "when", "why")]
    for e in events:
        when = e.failed_at if e.state == "given_up" else e.next_at
        label = "given up" if e.state == "given_up" else "retrying"
        moment = f"{'next ' if e.state == 'retrying' else ''}{_local(when)}"
        table.append(
            (e.id, e.call_id, e.event, label, str(e.attempts), moment, e.last_error or "-")
        )
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[6]]))


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
