"""Streaming chat completions from any OpenAI-style endpoint, with our own deadlines.

The ``openai`` package provides the connection: authentication, base URL, Azure deployments and
its error types. We use its documented raw-request path (``client.post(..., stream=True)`` with
an HTTP response as the result type) and read the server-sent events ourselves: the typed path
builds a pydantic object per token and transforms the whole request on every turn, which costs
more CPU per phone turn than everything else in the server together.

Deadlines are ours, not the client's (its defaults are 600 s and two retries): the first event
must arrive within ``first_token_timeout``, retries happen only within that window, and the
whole answer must finish within ``turn_timeout``. Closing the generator (the session cancels it
when a newer request arrives) closes the upstream HTTP stream at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Any, Protocol, TypeAlias, cast
from urllib.parse import quote

import openai
import orjson
import structlog

from engine.errors import LLMError, LLMTimeout
from engine.llm.stream import LLMEvent, describe, sse_events
from engine.settings import Settings

try:  # openai >= 3 speaks through httpx2; older releases through httpx.
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx as _http  # type: ignore[no-redef,import-not-found,unused-ignore]

log = structlog.get_logger(__name__)

Message: TypeAlias = Mapping[str, Any]


class ChatModel(Protocol):
    """Anything that streams a chat completion as :data:`LLMEvent` items."""

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None = None,
        *,
        tool_choice: Message | str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream the answer to ``messages``; raise :class:`LLMError` when it cannot.

        ``tool_choice`` is the chat-completions field: ``{"type": "function", "function":
        {"name": ...}}`` makes the model call that function (a structured answer).
        """
        ...


class _StreamingResponse(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def stream(self) -> AsyncIterable[bytes]: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


_RETRIABLE = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


class OpenAIChatModel:
    """A :class:`ChatModel` over one shared ``AsyncOpenAI`` / ``AsyncAzureOpenAI`` client."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        first_token_timeout: float = 2.0,
        turn_timeout: float = 20.0,
        retries: int = 1,
    ) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.first_token_timeout = first_token_timeout
        self.turn_timeout = turn_timeout
        self.retries = retries
        self._path = _chat_path(client, model)

    def _body(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None,
        tool_choice: Message | str | None = None,
    ) -> bytes:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if tools:
            body["tools"] = tools
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        return orjson.dumps(body)

    async def _open(self, body: bytes) -> _StreamingResponse:
        response = await self.client.post(
            self._path,
            cast_to=_http.Response,
            content=body,
            stream=True,
            options={
                "headers": {"Content-Type": "application/json"},
                "max_retries": 0,
                "timeout": self.turn_timeout,  # also bounds a stall between two chunks
            },
        )
        # The async client streams an async body; its type says sync-or-async.
        return cast(_StreamingResponse, response)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None = None,
        *,
        tool_choice: Message | str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream the model's answer; see the module docstring for the deadlines."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        first_deadline = started + self.first_token_timeout
        turn_deadline = started + self.turn_timeout
        body = self._body(messages, tools, tool_choice)
        attempt = 0
        events: AsyncGenerator[LLMEvent, None] | None = None
        while True:
            response: _StreamingResponse | None = None
            try:
                async with asyncio.timeout_at(first_deadline):
                    response = await self._open(body)
                    events = sse_events(_body_chunks(response))
                    first = await anext(events, None)
            except TimeoutError:
                await _close(response)
                raise LLMTimeout(
                    f"no answer from the model within {self.first_token_timeout:g}s"
                ) from None
            except (*_RETRIABLE, LLMError) as exc:
                await _close(response)
                if attempt < self.retries and loop.time() < first_deadline - 0.05:
                    attempt += 1
                    log.warning("llm.retry", attempt=attempt, error=describe(exc))
                    continue
                raise LLMError(f"the model request failed: {describe(exc)}") from exc
            except openai.APIError as exc:
                await _close(response)
                raise LLMError(f"the model request failed: {describe(exc)}") from exc
            except BaseException:
                await _close(response)
                raise
            break
        try:
            if first is None:
                return
            yield first
            # The whole-answer deadline is checked per event (a timer per read costs more than
            # the rest of reading the event); a stream that stalls outright is ended by the
            # client's read timeout, which is the turn timeout too.
            while True:
                try:
                    event = await anext(events, None)
                except LLMError:
                    raise  # already says what went wrong (LLMTimeout is also an OSError)
                except (openai.APITimeoutError, _http.TimeoutException) as exc:
                    raise LLMTimeout(f"the model's answer stalled: {describe(exc)}") from exc
                except openai.APIError as exc:
                    raise LLMError(f"the model stream broke: {describe(exc)}") from exc
                except (_http.HTTPError, OSError) as exc:
                    raise LLMError(f"the model stream broke: {describe(exc)}") from exc
                if event is None:
                    return
                if loop.time() > turn_deadline:
                    raise LLMTimeout(f"the model's answer took longer than {self.turn_timeout:g}s")
                yield event
        finally:
            if events is not None:
                await events.aclose()
            await _close(response)


def _chat_path(client: openai.AsyncOpenAI, model: str) -> str:
    # The Azure client maps the model to its deployment URL only for JSON bodies it encodes
    # itself; we send pre-encoded bytes, so we build that URL the same way it would.
    if isinstance(client, openai.AsyncAzureOpenAI) and "/deployments" not in client.base_url.path:
        return f"/deployments/{quote(model, safe='')}/chat/completions"
    return "/chat/completions"


async def _close(response: _StreamingResponse | None) -> None:
    if response is not None:
        # Shielded so that a cancelled turn still releases the upstream socket right away.
        await asyncio.shield(response.aclose())


def _body_chunks(response: _StreamingResponse) -> AsyncIterable[bytes]:
    # An uncompressed body is read straight from the transport's stream: the client's own
    # iterators add a decoder and a re-chunker per token (their cost: bench/README.md).
    if response.headers.get("content-encoding", "identity") == "identity":
        return response.stream
    return response.aiter_bytes()


def make_client(settings: Settings) -> openai.AsyncOpenAI | None:
    """The process's one model client, from the ``openai`` package's standard variables.

    Returns ``None`` when no model is configured; the server then runs without one and says so.
    Must be called on the running event loop (the aiohttp transport binds to it).
    """
    provider = settings.llm_provider
    if provider == "none":
        return None
    if provider == "auto":
        provider = "azure" if os.environ.get("AZURE_OPENAI_ENDPOINT") else "openai"
    common: dict[str, Any] = {
        "max_retries": 0,  # retries are ours, inside the first-token deadline
        "timeout": settings.turn_timeout,
        "http_client": openai.DefaultAioHttpClient(),
    }
    if provider == "azure":
        if not (os.environ.get("AZURE_OPENAI_API_KEY") or os.environ.get("AZURE_OPENAI_AD_TOKEN")):
            return None
        return openai.AsyncAzureOpenAI(**common)
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key and os.environ.get("OPENAI_BASE_URL"):
        api_key = "none"  # local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) need no key
    if not api_key:
        return None
    return openai.AsyncOpenAI(api_key=api_key, **common)


def make_model(settings: Settings, client: openai.AsyncOpenAI) -> OpenAIChatModel:
    """A chat model using ``client`` with the deadlines and sampling from ``settings``."""
    return OpenAIChatModel(
        client,
        model=settings.model,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        first_token_timeout=settings.first_token_timeout,
        turn_timeout=settings.turn_timeout,
        retries=settings.llm_retries,
    )
