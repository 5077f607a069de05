"""``dialplan call``: place one call, or a batch of calls from a CSV file, through the platform.

One call: ``dialplan call --to +14155550100 --flow reminder --var name=Dana`` prints the call
id. A batch: ``dialplan call --csv people.csv --flow reminder`` checks every row first, then
places the calls at a bounded pace with a progress bar and prints a result per row. A batch's
state is kept in the call log, so running it again never calls anyone twice (see
:mod:`engine.phone.ledger`).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from engine.phone import BadNumber, Ledger, PlatformClient, e164
from engine.phone.batch import BatchFile, BatchFileError, read_batch
from engine.phone.placing import Order, Outcome, Placer, Step, plan, run_batch
from engine.records import Database, RecordsError
from engine.server import logs
from engine.settings import Settings

from . import _project, _settings
from ._settings import OperatorError

T = TypeVar("T")


def _variables(pairs: Sequence[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--var")
        found[name.strip()] = value
    return found


@click.command("call")
@click.option("--to", "to_number", metavar="NUMBER", help="The number to call (E.164: +1...).")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A batch: a CSV file with a `phone` column; the other columns become variables.",
)
@click.option("--flow", required=True, help="The flow that runs the call(s).")
@click.option(
    "--from", "from_number", metavar="NUMBER", help="Caller id [default: DIALPLAN_FROM_NUMBER]."
)
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="A variable for the call's templates (call.retell_llm_dynamic_variables); repeatable; "
    "with --csv, for every row (a row's own columns win).",
)
@click.option(
    "--agent",
    "agent_id",
    metavar="AGENT_ID",
    help="The platform agent to use instead of the number's own.",
)
@click.option(
    "--region",
    metavar="CC",
    help="Country of numbers written without +country code (US, GB, ...).",
)
@click.option(
    "--batch",
    "batch_name",
    metavar="NAME",
    help="The batch's name in the call log "
    "[default: the CSV file's name]; a rerun of the same name calls nobody twice.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 100),
    default=2,
    show_default=True,
    help="Batch: calls placed at once.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.01, 100),
    default=1.0,
    show_default=True,
    help="Batch: calls placed per second, at most.",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Batch: place the good rows even when some "
    "rows are invalid (they are reported); without it a bad row stops the batch "
    "before any call.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be placed; place nothing.")
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="SQLAlchemy URL of the call log [default: DIALPLAN_DATABASE_URL].",
)
def call(
    to_number: str | None,
    csv_file: Path | None,
    flow: str,
    from_number: str | None,
    variables: tuple[str, ...],
    agent_id: str | None,
    region: str | None,
    batch_name: str | None,
    concurrency: int,
    rate: float,
    skip_invalid: bool,
    dry_run: bool,
    database_url: str | None,
) -> None:
    """Place a call (--to) or a batch of calls (--csv) through the platform.

    The platform dials the number and connects the call to the agent whose Custom LLM URL is
    this server, which runs FLOW (it travels in the call's metadata). Needs
    DIALPLAN_PLATFORM_URL and DIALPLAN_PLATFORM_KEY; the caller id is --from or
    DIALPLAN_FROM_NUMBER. Exit status 1 if a call was not placed.
    """
    if (to_number is None) == (csv_file is None):
        raise click.UsageError("give either --to NUMBER (one call) or --csv FILE (a batch)")
    settings = _settings.settings()
    # Results are printed; the log shows only what goes wrong on the way (retries), on stderr.
    logs.configure("DEBUG" if settings.log_level == "DEBUG" else "WARNING", settings.log_format)
    shared = _variables(variables)
    _open_flow(flow)
    sender = _from_number(from_number or settings.from_number, region, dry_run)
    url = database_url if database_url is not None else settings.database_url
    if to_number is not None:
        try:
            number = e164(to_number, region)
        except BadNumber as exc:
            raise click.BadParameter(str(exc), param_hint="--to") from None
        if dry_run:
            click.echo(
                f"would call {number} from {sender or '(no caller id)'}: flow {flow}"
                + (f", variables {shared}" if shared else "")
            )
            return
        _one(settings, url, sender, number, flow, agent_id, shared)
        return
    assert csv_file is not None
    try:
        batch = read_batch(csv_file, region)
    except BatchFileError as exc:
        raise click.ClickException(str(exc)) from None
    if batch.problems and not skip_invalid and not dry_run:
        for problem in batch.problems:
            click.echo(problem, err=True)
        raise click.ClickException(
            f"{len(batch.problems)} row(s) of {csv_file} cannot be called; nothing was placed "
            "(fix them, or give --skip-invalid to place the other rows)"
        )
    if not url:
        raise click.ClickException(
            "a batch keeps its state in the call log, and DIALPLAN_DATABASE_URL is empty"
        )
    _batch(
        settings,
        url,
        sender,
        batch,
        name=batch_name or csv_file.stem,
        flow=flow,
        agent_id=agent_id,
        shared=shared,
        concurrency=concurrency,
        rate=rate,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
    )


def _open_flow(flow: str) -> None:
    # A misspelt flow would be placed anyway and answered by the default flow: refuse it now.
    _project.open_flow(flow)


def _from_number(number: str | None, region: str | None, dry_run: bool) -> str:
    if not number:
        if dry_run:
            return ""
        raise click.UsageError("no caller id: give --from NUMBER or set DIALPLAN_FROM_NUMBER")
    try:
        return e164(number, region)
    except BadNumber as exc:
        raise click.BadParameter(str(exc), param_hint="--from / DIALPLAN_FROM_NUMBER") from None


def _client(settings: Settings) -> PlatformClient:
    url, key = settings.platform_url, settings.platform_key
    if not url or not key:
        needed = {
            "DIALPLAN_PLATFORM_URL is not set: the platform's REST base URL (for Retell: "
            "https://api.retellai.com)": url,
            "DIALPLAN_PLATFORM_KEY is not set: the platform's API key": key,
        }
        raise OperatorError([problem for problem, value in needed.items() if not value])
    return PlatformClient(
        url,
        key.get_secret_value(),
        timeout=settings.platform_timeout,
        retries=settings.platform_retries,
    )


def _database(url: str) -> Database:
    try:
        database = Database(url)
        database.migrate()
    except RecordsError as exc:
        raise click.ClickException(str(exc)) from None
    return database


class _Blocking:
    """Runs the ledger's blocking writes on one thread of their own (one writer for SQLite)."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="dialplan-ledger")

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))


def _one(
    settings: Settings,
    url: str,
    sender: str,
    number: str,
    flow: str,
    agent_id: str | None,
    shared: dict[str, str],
) -> None:
    client = _client(settings)
    database = _database(url) if url else None
    blocking = _Blocking()

    async def place() -> Outcome:
        async with client:
            placer = Placer(
                client,
                from_number=sender,
                flow=flow,
                agent_id=agent_id,
                ledger=Ledger(database) if database else None,
                run_blocking=blocking,
            )
            return await placer.place(Order(number, shared))

    try:
        outcome = asyncio.run(place())
    finally:
        blocking.executor.shutdown()
        if database is not None:
            database.close()
    if outcome.result != "placed":
        if outcome.result == "unknown":
            raise click.ClickException(
                f"{outcome.error} (the call may have been placed: check the platform's call "
                "list before calling again)"
            )
        raise click.ClickException(outcome.error or "not placed")
    click.echo(f"placed a call to {number} (flow {flow})", err=True)
    click.echo(outcome.call_id)


def _batch(
    settings: Settings,
    url: str,
    sender: str,
    batch: BatchFile,
    *,
    name: str,
    flow: str,
    agent_id: str | None,
    shared: dict[str, str],
    concurrency: int,
    rate: float,
    dry_run: bool,
    skip_invalid: bool,
) -> None:
    orders = [
        Order(row.to_number, {**shared, **row.variables}, row.line)
        for row in batch.good
        if row.to_number
    ]
    database = _database(url)
    ledger = Ledger(database)
    try:
        steps = plan(orders, ledger.batch(name), datetime.now(UTC))
        invalid = [row for row in batch.rows if row.problem]
        if dry_run:
            _show_plan(batch, name, flow, sender, steps, skip_invalid)
            return
        client = _client(settings)
        if ledger.open_batch(name, flow, str(batch.path)):
            before = Counter(step.action for step in steps)
            click.echo(
                f"batch {name!r} ran before: {before['skip']} row(s) skipped, "
                f"{before['retry']} asked again, {before['place']} new",
                err=True,
            )
        outcomes = asyncio.run(
            _run(client, ledger, sender, flow, agent_id, name, steps, concurrency, rate)
        )
    finally:
        database.close()
    _report(batch, outcomes, invalid)
    if any(o.result in ("failed", "unknown", "stopped") for o in outcomes):
        sys.exit(1)


async def _run(
    client: PlatformClient,
    ledger: Ledger,
    sender: str,
    flow: str,
    agent_id: str | None,
    name: str,
    steps: list[Step],
    concurrency: int,
    rate: float,
) -> list[Outcome]:
    blocking = _Blocking()
    try:
        async with client:
            placer = Placer(
                client,
                from_number=sender,
                flow=flow,
                agent_id=agent_id,
                ledger=ledger,
                batch=name,
                run_blocking=blocking,
            )
            with click.progressbar(
                length=len(steps), label=f"batch {name}", file=sys.stderr, show_pos=True
            ) as bar:
                return await run_batch(
                    placer,
                    steps,
                    concurrency=concurrency,
                    rate=rate,
                    done=lambda outcome: bar.update(1),
                )
    finally:
        blocking.executor.shutdown()


def _show_plan(
    batch: BatchFile, name: str, flow: str, sender: str, steps: list[Step], skip_invalid: bool
) -> None:
    click.echo(f"batch {name!r} from {batch.path}: flow {flow}, caller id {sender or '(none)'}")
    by_line = {step.order.line: step for step in steps}
    table: list[tuple[str, str, str, str]] = [("line", "number", "would", "variables / why")]
    for row in batch.rows:
        step = by_line.get(row.line)
        if row.problem or step is None:
            table.append((str(row.line), row.phone, "not call", row.problem or ""))
            continue
        what = {"place": "call", "retry": "call again", "skip": "skip"}[step.action]
        detail = step.reason or ", ".join(f"{k}={v}" for k, v in step.order.variables.items())
        table.append((str(row.line), step.order.to_number, what, detail))
    _table(table)
    counts = Counter(step.action for step in steps)
    if batch.problems and not skip_invalid:
        click.echo(
            f"dry run: {len(batch.problems)} invalid row(s), so no call would be placed (fix "
            "them, or give --skip-invalid to place the other rows)"
        )
        return
    click.echo(
        f"dry run: {counts['place'] + counts['retry']} call(s) would be placed, "
        f"{counts['skip']} skipped, {len(batch.problems)} invalid row(s); nothing was placed"
    )


def _report(batch: BatchFile, outcomes: list[Outcome], invalid: Sequence[Any]) -> None:
    table: list[tuple[str, str, str, str]] = [("line", "number", "result", "call id / error")]
    rows = [(o.order.line or 0, o) for o in outcomes]
    for row in invalid:
        table.append((str(row.line), row.phone, "invalid", row.problem or ""))
    for line, outcome in sorted(rows, key=lambda item: item[0]):
        detail = outcome.call_id or ""
        if outcome.error:
            detail = f"{detail}  {outcome.error}".strip()
        table.append((str(line), outcome.order.to_number, outcome.result, detail))
    table[1:] = sorted(table[1:], key=lambda cells: int(cells[0]))
    _table(table)
    counts = Counter(o.result for o in outcomes)
    parts = [
        f"{counts[r]} {r}"
        for r in ("placed", "failed", "unknown", "skipped", "stopped")
        if counts[r]
    ]
    if invalid:
        parts.append(f"{len(invalid)} invalid")
    click.echo(f"{batch.path}: " + ", ".join(parts or ["nothing to do"]), err=True)


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())
