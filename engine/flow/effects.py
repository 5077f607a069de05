"""The effects of a state: its actions run, its lines rendered, its call control and settings.

Everything here acts (runs an action, renders a line to speak) but decides nothing: which state
is entered and when is the conversation's business (:mod:`engine.flow.conversation`), by the
plans of :mod:`engine.flow.decide`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
import orjson
import structlog

from engine import tracing
from engine.agent import Part, Speech
from engine.errors import RuntimeFault
from engine.protocol import CallControl, ToolCallInvocation, ToolCallResult, UpdateAgent
from engine.templates import render

from .actions import ActionRunner
from .compile import CompiledFlow
from .speaking import Streamed
from .spec import Webhook

log = structlog.get_logger("dialplan.actions")


def line(flow: CompiledFlow, state: str, key: str, view: Mapping[str, Any]) -> str | None:
    """A state's ``say``, ``reask`` or ``reminder`` line rendered, if it has one."""
    path = ("states", state, key)
    if path not in flow.templates:
        return None
    return render(flow.template(*path), view)


def control(flow: CompiledFlow, state: str, view: Mapping[str, Any]) -> CallControl:
    """What the platform does after the state's line: hang up, transfer, press digits."""
    spec = flow.state(state)
    result = CallControl(no_interruption_allowed=spec.no_interruption)
    if spec.end_call:
        return result | CallControl(end_call=True)
    if spec.transfer is not None:
        number = render(flow.template("states", state, "transfer"), view)
        return result | CallControl(transfer_number=number)
    if spec.press_digit is not None:
        return result | CallControl(digit_to_press=spec.press_digit)
    return result


def voice_update(flow: CompiledFlow, state: str) -> UpdateAgent | None:
    """The turn-taking settings the state sends on entry, if any."""
    voice = flow.state(state).voice
    config = voice.model_dump(exclude_none=True) if voice is not None else {}
    return UpdateAgent(config) if config else None


@dataclass(frozen=True)
class PreparedAction:
    """One action of a state, ready to run: its name, rendered arguments and webhook target."""

    name: str
    args: Any
    webhook: Webhook | None = None
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # a webhook's, rendered

    def arguments_json(self) -> str:
        """The arguments as the stringified JSON that tool bookkeeping events carry."""
        return orjson.dumps(self.args, default=str).decode()


def prepare_action(
    flow: CompiledFlow, state: str, index: int, view: Mapping[str, Any]
) -> PreparedAction:
    """Render action ``index`` of ``state``: its arguments, or its webhook's URL and body."""
    action = flow.state(state).actions[index]
    base = ("states", state, "actions", index)
    if action.webhook is None:
        args = _render_leaves(flow, action.args, view, (*base, "args"))
        return PreparedAction(action.call or "", args)
    url = render(flow.template(*base, "webhook", "url"), view)
    body = _render_leaves(flow, action.webhook.body or {}, view, (*base, "webhook", "body"))
    headers = {
        header: render(flow.template(*base, "webhook", "headers", header), view)
        for header in action.webhook.headers
    }
    return PreparedAction(f"webhook:{state}:{index}", body, action.webhook, url, headers)


def stored_values(
    flow: CompiledFlow, state: str, index: int, view: Mapping[str, Any], result: Any
) -> dict[str, Any]:
    """The slots the action's ``store`` expressions take from ``result`` (misfits are skipped)."""
    action = flow.state(state).actions[index]
    values = {}
    for slot in action.store:
        expression = flow.guards[("states", state, "actions", index, slot)]
        try:
            value = expression(**view, result=result)
        except Exception as exc:  # a store expression that does not fit this result
            log.warning("action.store_failed", state=state, slot=slot, error=repr(exc))
            continue
        if value is not None and not isinstance(value, jinja2.Undefined):
            values[slot] = value
    return values


async def run_action(
    flow: CompiledFlow,
    state: str,
    index: int,
    view: Mapping[str, Any],
    runner: ActionRunner,
    tool_id: str,
    slots: dict[str, Any],
) -> AsyncIterator[Part]:
    """Run action ``index`` of ``state`` with its bookkeeping events; store into ``slots``.

    An :class:`~engine.flow.actions.ActionError` (a webhook's HTTP error, a timeout) is a
    result the flow can route on (``result.error``). Any other exception is a bug in the
    action: its result says it failed, and the exception ends the turn (the caller hears the
    fallback line) so that the flow does not go on as if nothing had happened.
    """
    action = prepare_action(flow, state, index, view)
    yield ToolCallInvocation(tool_id, action.name, action.arguments_json())
    traced = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": action.name}
    try:
        # No yield inside: the span is current only while the action runs.
        with tracing.span(
            f"execute_tool {action.name}", {**traced, "dialplan.state": state}
        ) as span:
            try:
                result = await runner.run(
                    action.name, action.args, action.webhook, action.url, headers=action.headers
                )
            except Exception as exc:
                tracing.failed(span, exc)
                raise
        ok = True
    except RuntimeFault as exc:
        log.warning("action.failed", call_id=runner.call_id, action=action.name, error=str(exc))
        result, ok = {"error": str(exc)}, False
    except Exception as exc:
        log.error("action.crashed", call_id=runner.call_id, action=action.name, exc_info=exc)
        error = orjson.dumps({"error": f"{type(exc).__name__}: {exc}"}).decode()
        yield ToolCallResult(tool_id, error, False)
        raise
    slots.update(stored_values(flow, state, index, view, result))
    yield ToolCallResult(tool_id, orjson.dumps(result, default=str).decode(), ok)


def _render_leaves(
    flow: CompiledFlow, value: Any, view: Mapping[str, Any], path: tuple[Any, ...]
) -> Any:
    # String leaves are templates compiled with the flow, found again by their path: one
    # expression gives its typed value (compile.py), anything else is text.
    if isinstance(value, str):
        one = flow.values.get(path)
        return one(view) if one is not None else render(flow.template(*path), view)
    if isinstance(value, dict):
        return {k: _render_leaves(flow, v, view, (*path, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render_leaves(flow, v, view, (*path, i)) for i, v in enumerate(value)]
    return value


async def spaced(parts: AsyncIterator[Part]) -> AsyncIterator[Part]:
    """Keep separate lines from running into each other ("Got it.What's ...").

    The later pieces of a streamed model answer (:class:`~engine.flow.speaking.Streamed`) are
    left as they are: they continue the piece before.
    """
    last = ""
    async for part in parts:
        if isinstance(part, Speech):
            if not part.text:
                continue
            if (
                last
                and not isinstance(part, Streamed)
                and not last[-1].isspace()
                and not part.text[0].isspace()
            ):
                masked = " " + part.masked if part.masked is not None else None
                part = Speech(" " + part.text, masked)
            last = part.text
        yield part
