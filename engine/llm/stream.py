"""The model's answer as events: server-sent chat-completion chunks to text and tool calls.

Splitting the byte stream and parsing each ``data:`` line here, instead of through the client's
typed stream, keeps the per-token cost to one JSON parse.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass
from typing import TypeAlias

import aiohttp
import openai
import orjson

from engine.errors import LLMError, LLMTimeout

try:  # openai >= 3 speaks through httpx2; older releases through httpx.
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx as _http  # type: ignore[no-redef,import-not-found,unused-ignore]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the model's answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """A complete tool call from the model; ``arguments`` is the raw JSON text it produced."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens a request used, when the server reports them (the last event of a stream)."""

    prompt_tokens: int
    completion_tokens: int


LLMEvent: TypeAlias = TextDelta | ToolCallRequest | Usage


async def _lines(chunks: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
    # Splitting bytes ourselves skips the client's text decoders, which cost more per token
    # than parsing the JSON of the chunk.
    pending = b""
    async for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk:
            continue
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line
    if pending:
        yield pending


async def sse_events(chunks: AsyncIterable[bytes]) -> AsyncGenerator[LLMEvent, None]:
    """Parse server-sent chat-completion chunks into text deltas and finished tool calls."""
    calls: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
    usage: Usage | None = None
    try:
        async for line in _lines(chunks):
            if not line.startswith(b"data:"):
                continue  # blank separators, comments and `event:` lines
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise LLMError("the model sent a malformed stream chunk") from None
            if chunk.get("error"):
                raise LLMError(f"the model reported an error mid-stream: {chunk['error']}")
            counts = chunk.get("usage")
            if counts:  # with `stream_options.include_usage`: a last chunk with no choices
                usage = Usage(
                    int(counts.get("prompt_tokens") or 0), int(counts.get("completion_tokens") or 0)
                )
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                text = delta.get("content")
                if text:
                    yield TextDelta(text)
                for call in delta.get("tool_calls") or ():
                    slot = calls.setdefault(call.get("index", 0), ["", ""])
                    if call.get("id"):
                        slot[0] = call["id"]
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot[1] = function["name"]
                    if function.get("arguments"):
                        slot.append(function["arguments"])
    except (TimeoutError, _http.TimeoutException) as exc:  # aiohttp's read timeout, or httpx's
        raise LLMTimeout(f"the model's answer stalled: {describe(exc)}") from exc
    except (aiohttp.ClientError, _http.HTTPError, OSError, openai.APIError) as exc:
        raise LLMError(f"the model stream broke: {describe(exc)}") from exc
    for index in sorted(calls):
        call_id, name, *arguments = calls[index]
        yield ToolCallRequest(call_id or f"call_{index}", name, "".join(arguments) or "{}")
    if usage is not None:
        yield usage


def describe(exc: BaseException) -> str:
    """A short, secret-free description of a transport or API error for logs and messages."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
