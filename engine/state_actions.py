"""A flow state's actions as a call runs them: arguments rendered, results stored into slots.

The flow names an action (or a webhook) and templates for its arguments; here those templates
are rendered with the call's slots, and the ``store`` expressions of the state pick the values
the flow keeps from the result. Running the action itself, at most once per call and
arguments, is :class:`engine.actions.ActionRunner`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2
import orjson
import structlog

from .spec import Webhook

if TYPE_CHECKING:
    from .flows import CompiledFlow

log = structlog.get_logger("dialplan.actions")


@dataclass(frozen=True)
class PreparedAction:
    """One action of a state, ready to run: its name, rendered arguments and webhook target."""

    name: str
    args: Any
    webhook: Webhook | None = None
    url: str = ""

    def arguments_json(self) -> str:
        """The arguments as the stringified JSON that tool bookkeeping events carry."""
        return orjson.dumps(self.args, default=str).decode()


def prepare(flow: CompiledFlow, state: str, index: int, context: dict[str, Any]) -> PreparedAction:
    """Render action ``index`` of ``state`` with the call's ``context``."""
    action = flow.spec.states[state].actions[index]
    base = ("states", state, "actions", index)
    if action.webhook is None:
        args = _render(flow, action.args, context, (*base, "args"))
        return PreparedAction(action.call or "", args)
    url = flow.template(*base, "webhook", "url").render(context)
    body = _render(flow, action.webhook.body or {}, context, (*base, "webhook", "body"))
    return PreparedAction(f"webhook:{state}:{index}", body, action.webhook, url)


def stored_values(
    flow: CompiledFlow, state: str, index: int, context: dict[str, Any], result: Any
) -> dict[str, Any]:
    """The slots the state's ``store`` expressions take from ``result`` (misfits are skipped)."""
    action = flow.spec.states[state].actions[index]
    values = {}
    for slot in action.store:
        expression = flow.guards[("states", state, "actions", index, slot)]
        try:
            value = expression(**context, result=result)
        except Exception as exc:  # a store expression that does not fit this result
            log.warning("action.store_failed", state=state, slot=slot, error=repr(exc))
            continue
        if value is not None and not isinstance(value, jinja2.Undefined):
            values[slot] = value
    return values


def _render(flow: CompiledFlow, value: Any, context: dict[str, Any], path: tuple[Any, ...]) -> Any:
    # String leaves are templates compiled with the flow, found again by their path.
    if isinstance(value, str):
        return flow.template(*path).render(context)
    if isinstance(value, dict):
        return {k: _render(flow, v, context, (*path, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render(flow, v, context, (*path, i)) for i, v in enumerate(value)]
    return value
