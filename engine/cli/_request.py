"""A request to the model as the terminal shows it: ``dialplan prompt`` and the chat's ``/prompt``.

Each message under its role, every line indented; each tool with its description and its
parameters as JSON; the forced tool, if any; then the size estimate of
:meth:`~engine.llm.ModelRequest.estimated_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from engine.llm import ModelRequest
from engine.llm.request import CHARACTERS_PER_TOKEN


def request_lines(request: ModelRequest) -> list[str]:
    """``request`` for a person to read, one line per item."""
    lines: list[str] = []
    for message in request.messages:
        lines.append(f"{message.get('role', '?')}:")
        lines += [f"  {text}" for text in str(message.get("content") or "").splitlines()]
    if request.tools:
        lines.append("tools:")
        for tool in request.tools:
            lines += _tool(tool)
    else:
        lines.append("tools: (none)")
    forced = _forced(request.tool_choice)
    if forced:
        lines.append(f"tool_choice: {forced} (the model must call it)")
    lines.append(
        f"about {request.estimated_tokens()} tokens (the request's JSON, "
        f"{CHARACTERS_PER_TOKEN} characters a token)"
    )
    return lines


def _tool(tool: Mapping[str, Any]) -> list[str]:
    function = tool.get("function") or {}
    lines = [f"  {function.get('name')}: {function.get('description', '')}"]
    parameters = orjson.dumps(function.get("parameters") or {}, option=orjson.OPT_INDENT_2)
    lines += [f"    {text}" for text in parameters.decode().splitlines()]
    return lines


def _forced(choice: Any) -> str | None:
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        return str(name) if name else None
    return None
