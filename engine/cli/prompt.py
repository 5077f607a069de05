"""``dialplan prompt``: what the model is given in a state of a flow, without a call.

The request is the one a call sends (:mod:`engine.flow.preview` builds it with the engine's own
code); the slots, call details and the caller's words are given on the command line.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date, datetime

import click
import orjson

from engine.agent import CallInfo
from engine.errors import TemplateError
from engine.flow import CompiledFlow, FlowServices
from engine.flow.preview import CALLER, Preview, preview

from . import _project
from ._request import request_lines


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        name, equals, text = value.partition("=")
        if not equals or not name.strip():
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=option)
        found[name.strip()] = text
    return found


def _slots(flow: CompiledFlow, given: dict[str, str], today: date) -> dict[str, object]:
    """The given values, each read by its slot's type (as a caller's answer would be)."""
    slots: dict[str, object] = {}
    for name, text in given.items():
        spec = flow.slots.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(flow.slots), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise click.BadParameter(f"{flow.name} has no slot {name!r}{hint}", param_hint="--slot")
        parsed = flow.slot_types[name].parse(text, spec, today)
        if not parsed.ok:
            raise click.BadParameter(f"{name}={text}: {parsed.error}", param_hint="--slot")
        slots[name] = parsed.value
    return slots


@click.command("prompt")
@click.argument("flow")
@click.argument("state")
@click.option(
    "--slot",
    "slot_values",
    metavar="NAME=VALUE",
    multiple=True,
    help="A slot the call holds (read by the slot's type, as an answer is); repeatable.",
)
@click.option(
    "--var",
    "variables",
    metavar="KEY=VALUE",
    multiple=True,
    help="A variable of the call (call.retell_llm_dynamic_variables); repeatable.",
)
@click.option(
    "--metadata",
    "metadata",
    metavar="KEY=VALUE",
    multiple=True,
    help="A metadata entry of the call (call.metadata); repeatable.",
)
@click.option(
    "--said",
    default=CALLER,
    show_default=True,
    help="What the caller has just said (the last message).",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Pretend today is YYYY-MM-DD (dates, and the extraction's 'Today is ...').",
)
@click.option("--json", "as_json", is_flag=True, help="The request as JSON, with the estimate.")
def prompt(
    flow: str,
    state: str,
    slot_values: tuple[str, ...],
    variables: tuple[str, ...],
    metadata: tuple[str, ...],
    said: str,
    today: datetime | None,
    as_json: bool,
) -> None:
    """Show what the model is given in STATE of FLOW: messages, tools, and a token estimate.

    The request is built by the code a call runs. In a state with a fixed line the model only
    reads the caller's answer: the request offers one function, record_answer, and forces it.
    Elsewhere the model speaks, with the state's set_ and intent_ tools (on entering a prompt
    state it gets the same messages without tools). The transcript is the state's line and
    the caller's words (--said). The token count is an estimate: the request's JSON, four
    characters a token.
    """
    the_project = _project.project()
    compiled = _project.open_flow(flow, the_project)
    if state not in compiled.spec.states:
        close = difflib.get_close_matches(state, list(compiled.spec.states), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise click.ClickException(f"{compiled.name} has no state {state!r}{hint}")
    call = CallInfo(
        "prompt",
        flow=compiled.name,
        details={
            "metadata": _pairs(metadata, "--metadata"),
            "retell_llm_dynamic_variables": _pairs(variables, "--var"),
        },
    )
    fixed = today.date() if today else the_project.settings.today
    services = FlowServices(
        lambda _call: compiled,
        today=(lambda: fixed) if fixed else None,
        time_zone=the_project.settings.time_zone,
    )
    day = services.today_for(call, compiled)
    slots = _slots(compiled, _pairs(slot_values, "--slot"), day)
    try:
        shown = preview(compiled, state, slots, call, day, said)
    except TemplateError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(orjson.dumps(_json(compiled, shown), option=orjson.OPT_INDENT_2).decode())
        return
    what = (
        "the model reads the caller's answer (the flow speaks its own line)"
        if shown.kind == "reads"
        else "the model speaks"
    )
    click.echo(f"flow {compiled.name}, state {state}: {what}")
    for line in request_lines(shown.request):
        click.echo(line)


def _json(flow: CompiledFlow, shown: Preview) -> dict[str, object]:
    return {
        "flow": flow.name,
        "state": shown.state,
        "model": shown.kind,
        "request": shown.request.body(),
        "estimated_tokens": shown.request.estimated_tokens(),
    }
