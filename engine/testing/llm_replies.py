"""What the test model answers: scripted replies, the counters, and the wire shapes.

A :class:`Reply` is one scripted answer (text split into word pieces, tool calls with their
arguments in fragments, delays, an error status, or a dropped connection); :class:`LLMStats`
counts what the server saw.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import orjson
from aiohttp import web

# A word plus the whitespace before it; whitespace at the very end sticks to the last word so
# that joining the pieces always gives back the text.
_WORD = re.compile(r"\s*\S+(?:\s+$)?")
_ARGUMENT_PIECE = 16
_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class ToolCall:
    """A function call the scripted model makes; ``dict`` arguments are JSON-encoded."""

    name: str
    arguments: dict[str, object] | str
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """How the server answers one chat-completions request.

    A *piece* is one streamed delta: a text piece, or a tool-call delta. ``tokens`` gives the text
    pieces explicitly; otherwise ``text`` is split into words that keep their leading spaces.
    ``disconnect_after`` counts pieces. ``first_token_delay`` also delays error answers, so a
    slow failing upstream can be scripted.
    """

    text: str = ""
    tokens: tuple[str, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    status: int | None = None
    disconnect_after: int | None = None
    finish_reason: str | None = None
    finish: bool = True
    """``False``: the stream ends (with ``[DONE]``) without a finishing chunk, so no choice ever
    has a finish reason: llama.cpp's server ends a request that another one pre-empted so."""

    @classmethod
    def preempted(cls) -> Reply:
        """No text, no finish reason: a request another one pre-empted (llama.cpp's server)."""
        return cls(finish=False)

    @classmethod
    def empty(cls) -> Reply:
        """Finished (``stop``) with neither text nor a tool call.

        llama.cpp's server answers so when it streams a request with ``tool_choice: auto``.
        """
        return cls()


@dataclass
class LLMStats:
    """Counters of what the server has seen; read them through :meth:`LLMTestServer.wait_for`."""

    requests: int = 0
    completed: int = 0
    closed_early: int = 0
    errors: int = 0


def text_pieces(reply: Reply) -> list[str]:
    """The reply's text in the pieces it is streamed in (its ``tokens``, else its words)."""
    if reply.tokens is not None:
        return list(reply.tokens)
    return _WORD.findall(reply.text) or ([reply.text] if reply.text else [])


def split_arguments(arguments: str) -> list[str]:
    """Tool-call arguments in fragments, as OpenAI streams them."""
    # Clients must assemble arguments across deltas, so never send them in one piece.
    if len(arguments) < 2:
        return [arguments]
    parts = max(2, math.ceil(len(arguments) / _ARGUMENT_PIECE))
    size = math.ceil(len(arguments) / parts)
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def sse(payload: object) -> bytes:
    """One server-sent event carrying ``payload`` as JSON."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def error_response(status: int, message: str) -> web.Response:
    """An error answer shaped like OpenAI's, with the status's error type and code."""
    kind, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "api_error", None))
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    # retry-after 0 lets clients that do retry on 429 do so without slowing tests down.
    headers = {"retry-after": "0"} if status == 429 else {}
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def usage(body: dict[str, object], completion_tokens: int) -> dict[str, int]:
    """Token counts for a request and its answer."""
    # A word count stands in for tokens: enough for assertions and benchmark bookkeeping.
    messages = body.get("messages")
    prompt = sum(
        len(str(message.get("content") or "").split())
        for message in (messages if isinstance(messages, list) else ())
        if isinstance(message, dict)
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
