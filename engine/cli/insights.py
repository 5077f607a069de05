"""``dialplan calls compare`` and ``dialplan calls funnel``: a flow's versions on live traffic.

``compare`` sets a flow's versions side by side (each outcome's share with its 95 % interval,
turns, duration, model use) and each against a baseline (the rollout's stable version, else
the version with the most calls), so a real difference reads apart from noise. ``funnel``
shows, per state, how many calls entered it, left it and ended there, by outcome: where
callers drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
import orjson

from engine.errors import DialplanError
from engine.insights.compare import Comparison, VersionStats, compare
from engine.insights.funnel import Funnel, depths, funnel
from engine.insights.stats import Difference, Proportion
from engine.records import OUTCOMES, CallRecord

from . import _project
from .calls import database_at, parse_since

DEFAULT_SINCE = "30d"


def _window(fn: Any) -> Any:
    fn = click.option(
        "--since",
        metavar="WHEN",
        default=DEFAULT_SINCE,
        show_default=True,
        help="Calls started since: 2h, 3d, 1w, or a date.",
    )(fn)
    fn = click.option("--until", metavar="WHEN", help="Calls started before: 2h, 3d, a date.")(fn)
    fn = click.option(
        "--version", "versions", multiple=True, metavar="VERSION", help="Only this version."
    )(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="JSON, for tools.")(fn)
    return click.option(
        "--database", "database_url", metavar="URL", help="SQLAlchemy URL of the call log."
    )(fn)


def load_calls(
    flow: str,
    since: str | None,
    until: str | None,
    versions: Sequence[str],
    database_url: str | None,
) -> list[CallRecord]:
    """The calls of ``flow`` in the window (of ``versions``), from the call log."""
    from engine.server.logs import configure

    configure("WARNING")  # the tables are the output, not the engine's log lines
    database = database_at(database_url)
    try:
        return database.calls(
            flow=flow,
            since=parse_since(since) if since else None,
            until=parse_since(until) if until else None,
            versions=versions,
        )
    finally:
        database.close()


@click.command("compare")
@click.argument("flow")
@_window
@click.option("--baseline", metavar="VERSION", help="Compare every version with this one.")
def compare_versions(
    flow: str,
    since: str | None,
    until: str | None,
    versions: tuple[str, ...],
    as_json: bool,
    database_url: str | None,
    baseline: str | None,
) -> None:
    """FLOW's versions side by side: outcomes with 95 % intervals, turns, duration, model use.

    Each outcome's share is shown with its 95 % interval (Wilson), and each version's against
    the baseline's as a difference with its interval (Newcombe): where the interval holds 0,
    the calls cannot tell the versions apart yet.
    """
    found = load_calls(flow, since, until, versions, database_url)
    result = compare(flow, found, baseline)
    if baseline is not None and result.version(baseline) is None:
        raise click.ClickException(f"version {baseline} of {flow} served no call in the window")
    if as_json:
        click.echo(orjson.dumps(result.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    if not result.versions:
        click.echo(f"no calls of {flow} since {since}")
        return
    click.echo(_comparison(result, since))


def _comparison(result: Comparison, since: str | None) -> str:
    calls = sum(v.calls for v in result.versions)
    lines = [
        f"flow {result.flow}: {len(result.versions)} version(s), {calls} call(s)"
        + (f" since {since}" if since else "")
        + f"; baseline {result.baseline}"
    ]
    heads = [_head(v) for v in result.versions]
    rows: list[list[str]] = [["", *heads], ["calls", *(str(v.calls) for v in result.versions)]]
    for outcome in OUTCOMES:
        if any(v.outcomes[outcome].hits for v in result.versions):
            rows.append([outcome, *(_share(v.outcomes[outcome]) for v in result.versions)])
    rows.append(["median turns", *(_number(v.median_turns) for v in result.versions)])
    rows.append(["median duration", *(_seconds(v.median_seconds) for v in result.versions)])
    rows.append(["calls with the model", *(_share(v.model_calls) for v in result.versions)])
    rows.append(["model requests/call", *(f"{v.model_requests:.2f}" for v in result.versions)])
    rows.append(["model tokens/call", *(f"{v.tokens:.0f}" for v in result.versions)])
    lines += _table(rows)
    for stats in result.versions:
        differences = result.differences(stats)
        shown = {name: d for name, d in differences.items() if d.a.hits or d.b.hits}
        if not shown:
            continue
        lines.append("")
        lines.append(f"{stats.version} against {result.baseline}:")
        for name, difference in shown.items():
            lines.append(f"  {name:<12} {_difference(difference)}")
    return "\n".join(lines)


def _head(stats: VersionStats) -> str:
    arm = stats.arm
    if arm == "candidate" and stats.share is not None:
        return f"{stats.version} (candidate {_percent_number(stats.share)}%)"
    return f"{stats.version} ({arm})" if arm else stats.version


def _share(proportion: Proportion) -> str:
    low, high = proportion.interval
    if not proportion.total:
        return "-"
    return f"{proportion.rate:.0%} ({low * 100:.0f}-{high * 100:.0f})"


def _difference(difference: Difference) -> str:
    low, high = difference.interval
    return (
        f"{difference.value * 100:+.0f} pts (95 % interval {low * 100:+.0f} to "
        f"{high * 100:+.0f}): {difference.verdict}"
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def _percent_number(share: float) -> str:
    return f"{share:g}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


# -- the funnel ---------------------------------------------------------------------------------


@click.command("funnel")
@click.argument("flow")
@_window
@click.option("--combined", is_flag=True, help="Every version's calls in one funnel.")
def show_funnel(
    flow: str,
    since: str | None,
    until: str | None,
    versions: tuple[str, ...],
    as_json: bool,
    database_url: str | None,
    combined: bool,
) -> None:
    """Where FLOW's callers drop: per state, calls entered, left and ended (by outcome).

    One funnel per version (newest first; --version picks, --combined merges them): each
    state's calls that entered it, left it (forward, or back to an earlier state) and ended
    there by outcome, its re-asks, silences and give-ups; then the slots corrected most.
    """
    found = load_calls(flow, since, until, versions, database_url)
    order = _order(flow)
    if combined:
        funnels = [funnel(flow, found, order=order)]
    else:
        newest: dict[str, None] = {}
        for record in found:  # newest first
            newest.setdefault(record.flow_version or "?", None)
        funnels = [funnel(flow, found, version=v, order=order) for v in newest]
    if as_json:
        data = [f.as_json() for f in funnels]
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    if not funnels or not any(f.calls for f in funnels):
        click.echo(f"no calls of {flow} since {since}")
        return
    click.echo("\n\n".join(_funnel(f) for f in funnels))


def _order(flow: str) -> dict[str, int] | None:
    """The states' order in the flow as it is now (``None`` if it does not load here)."""
    try:
        return depths(_project.project().open_flow(flow))
    except (DialplanError, LookupError):
        return None


def _funnel(found: Funnel) -> str:
    version = found.version or "every version"
    lines = [f"flow {found.flow}, {version}: {found.calls} call(s)"]
    endings = [o for o in OUTCOMES if any(s.ended[o] for s in found.states.values())]
    head = ["state", "entered", "left", "fwd", "back", "ended", *endings]
    head += ["re-asks", "silences", "give-ups"]
    rows = [head]
    for state in found.states.values():
        rows.append(
            [
                state.state,
                str(state.entered),
                str(state.left),
                str(state.forward),
                str(state.back),
                str(state.ended_total),
                *(str(state.ended[o] or "") for o in endings),
                str(state.reasks or ""),
                str(state.silences or ""),
                str(state.give_ups or ""),
            ]
        )
    lines += _table(rows)
    worst = max(found.states.values(), key=lambda s: (s.dropped, -s.entered), default=None)
    if worst is not None and worst.dropped:
        share = worst.dropped / worst.entered if worst.entered else 0
        lines.append(
            f"most calls end badly in {worst.state}: {worst.dropped} of the {worst.entered} "
            f"that entered it ({share:.0%})"
        )
    if found.corrected:
        corrected = ", ".join(
            f"{c.slot} in {c.calls} call(s) ({c.times} time(s))" for c in found.corrected[:5]
        )
        lines.append(f"slots corrected most: {corrected}")
    return "\n".join(lines)
