"""Streaming chat completions from any OpenAI-style endpoint, with our own deadlines.

The ``openai`` package provides the configuration: authentication, base URL, Azure deployments
and API versions, from its standard variables. The request itself is sent as described in
:mod:`engine.llm.upstream` (built once by the client, then sent straight through aiohttp), and
the server-sent events are read by :mod:`engine.llm.stream`: the typed path builds a pydantic
object per token and transforms the whole request on every turn.

Deadlines are ours, not the client's (its defaults are 600 s and two retries): the model's
first piece (text, or the start of a tool call, whose arguments may stream slowly) must arrive
within ``first_token_timeout``, retries of a failed request happen only within that window, and
the whole answer must finish within ``turn_timeout``. A stream that ends without an answer (no
finish reason, or neither text nor a tool call) is asked once more, with a first-token window of
its own, then fails. Closing the generator (the session cancels it when a newer request arrives)
closes the upstream HTTP stream at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
import openai
import orjson
import structlog

from engine import tracing
from engine.errors import LLMError, LLMNoAnswer, LLMTimeout
from engine.settings import Settings

from .events import LLMEvent, Usage
from .model import ChatModel, Message, provider
from .stream import Begun, SSEReader, describe, stream_failure
from .upstream import (
    CHAT_PATH,
    Endpoint,
    RequestRefused,
    Upstream,
    endpoint_of,
    open_direct,
    open_via_client,
    static_credentials,
)

log = structlog.get_logger(__name__)


class OpenAIChatModel:
    """A :class:`ChatModel` over one shared ``AsyncOpenAI`` / ``AsyncAzureOpenAI`` client.

    Close it with :meth:`aclose` (it owns the HTTP connections its answers stream over); the
    ``openai`` client is closed by whoever made it.
    """

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
        usage: bool = True,
        gather: float = 0.0,
    ) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.first_token_timeout = first_token_timeout
        self.turn_timeout = turn_timeout
        self.retries = retries
        self.usage = usage
        self.gather = gather
        """Seconds the rest of an answer gathers between reads, once its first words are out."""
        self._direct = static_credentials(client)
        self._endpoint: Endpoint | None = None
        self._session: aiohttp.ClientSession | None = None
        # Everything in the body but the messages and tools is the same for every answer.
        fixed: dict[str, Any] = {"model": model, "stream": True}
        if usage:  # token counts for the call log, as a last chunk
            fixed["stream_options"] = {"include_usage": True}
        if temperature is not None:
            fixed["temperature"] = temperature
        if max_tokens is not None:
            fixed["max_tokens"] = max_tokens
        self._prefix = orjson.dumps(fixed)[:-1] + b',"messages":'

    def _body(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None,
        tool_choice: Message | str | None = None,
    ) -> bytes:
        body = self._prefix + orjson.dumps(messages)
        if tools:
            body += b',"tools":' + orjson.dumps(tools)
            if tool_choice is not None:
                body += b',"tool_choice":' + orjson.dumps(tool_choice)
        return body + b"}"

    async def _open(self, body: bytes) -> Upstream:
        if not self._direct:
            return await open_via_client(
                self.client, _chat_path(self.client, self.model), body, self.turn_timeout
            )
        if self._endpoint is None:
            try:
                self._endpoint = await endpoint_of(self.client, self.model)
            except Exception as exc:  # the client's private request builder moved or changed
                log.warning("llm.private_api_unavailable", error=describe(exc))
                self._direct = False
                return await self._open(body)
        if self._session is None or self._session.closed:
            # No limit on connections: every call may be streaming an answer at once.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return await open_direct(self._session, self._endpoint, body)

    async def aclose(self) -> None:
        """Close the connections to the model (the ``openai`` client is its owner's to close)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None = None,
        *,
        tool_choice: Message | str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Stream the model's answer; see the module docstring for the deadlines.

        Traced as a span of its own when tracing is on (:mod:`engine.tracing`); otherwise the
        answer's events come straight from the request, with nothing in between.
        """
        body = self._body(messages, tools, tool_choice)
        answer = self._stream(body)
        return self._traced_stream(answer) if tracing.enabled() else answer

    async def _traced_stream(
        self, answer: AsyncGenerator[LLMEvent, None]
    ) -> AsyncIterator[LLMEvent]:
        # Not current: the span outlives yields to the consumer (see engine.tracing.start).
        span = tracing.start(f"chat {self.model}", self._traced(), client=True)
        try:
            async for event in answer:
                if isinstance(event, Usage):
                    span.set_attributes(
                        {
                            "gen_ai.usage.input_tokens": event.prompt_tokens,
                            "gen_ai.usage.output_tokens": event.completion_tokens,
                        }
                    )
                yield event
        except BaseException as exc:
            tracing.failed(span, exc)
            raise
        finally:
            await answer.aclose()  # now, not when collected: it holds the HTTP stream
            span.end()

    def _traced(self) -> dict[str, Any]:
        """The request's ``gen_ai.*`` attributes (OpenTelemetry's GenAI conventions)."""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "openai",  # the older name of the provider, still read by many
            "gen_ai.request.model": self.model,
        }
        if self.temperature is not None:
            attributes["gen_ai.request.temperature"] = self.temperature
        if self.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = self.max_tokens
        return attributes

    async def _stream(self, body: bytes) -> AsyncGenerator[LLMEvent, None]:
        """:meth:`stream`'s work: the request, its retries and deadlines, the events.

        The stream's reads are parsed here (:class:`~engine.llm.stream.SSEReader`), not by a
        generator of their own: a piece of the answer goes from the HTTP stream's read to the
        one who reads the answer through this generator alone.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        first_deadline = started + self.first_token_timeout
        turn_deadline = started + self.turn_timeout
        attempt = 0
        while True:
            upstream: Upstream | None = None
            try:
                upstream, reader, first = await self._first(body, first_deadline, turn_deadline)
            except LLMError as exc:  # 429, 5xx, a dropped connection, no answer at all
                if isinstance(exc, LLMTimeout | RequestRefused) or attempt >= self.retries:
                    raise _failed(exc) from exc
                if isinstance(exc, LLMNoAnswer):
                    # Ended with nothing to say (pre-empted by another request, say): asked
                    # once more, with a first-token deadline of its own within the turn's.
                    first_deadline = min(loop.time() + self.first_token_timeout, turn_deadline)
                elif loop.time() >= first_deadline - 0.05:
                    raise _failed(exc) from exc
                attempt += 1
                log.warning("llm.retry", attempt=attempt, error=str(exc))
                continue
            break
        # The whole-answer deadline is checked per event (a timer per read costs more than the
        # rest of reading the event); a stream that stalls outright is ended at the deadline by
        # one timer for the whole answer (an answer through the openai client: by its own read
        # timeout, which is the turn timeout too).
        expire = getattr(upstream, "expire", None)
        stall = loop.call_at(turn_deadline, expire) if expire is not None else None
        read, gather = upstream.read, self.gather
        try:
            for event in first:
                yield event
            while not reader.done:
                if gather:
                    # The caller hears the words already sent while more arrive: a read (and a
                    # frame) per few tokens costs the server a fraction of one per token.
                    await upstream.gather(gather)
                try:
                    chunk = await read()
                except Exception as exc:
                    failure = stream_failure(exc)
                    if failure is None:
                        raise
                    raise failure from exc
                if not chunk:
                    tail = reader.tail()
                    if tail is not None:
                        yield tail
                    break
                piece = reader.feed(chunk)
                if piece is None or isinstance(piece, Begun):
                    continue
                if loop.time() > turn_deadline:
                    raise LLMTimeout(f"the model's answer took longer than {self.turn_timeout:g}s")
                yield piece
            for event in reader.finish():
                yield event
        except LLMError as exc:
            if getattr(upstream, "expired", False):  # the stall's timer ended it
                message = f"the model's answer took longer than {self.turn_timeout:g}s"
                raise LLMTimeout(message) from exc
            raise
        finally:
            if stall is not None:
                stall.cancel()
            await _close(upstream)

    async def _first(
        self, body: bytes, first_deadline: float, turn_deadline: float
    ) -> tuple[Upstream, SSEReader, list[LLMEvent]]:
        """Open the request and read up to the answer's first event (and what came with it).

        The model's first piece must come within the first-token deadline; a tool call begun
        in time may take the rest of the turn's deadline to finish (a local model streams its
        arguments slowly, and the call comes out whole only at their end).
        """
        upstream: Upstream | None = None
        reader = SSEReader()
        try:
            try:
                async with asyncio.timeout_at(first_deadline):
                    upstream = await self._open(body)
                    first = await _next_events(upstream, reader)
            except TimeoutError:
                raise LLMTimeout(
                    f"no answer from the model within {self.first_token_timeout:g}s"
                ) from None
            if first is BEGUN_ONLY:
                try:
                    async with asyncio.timeout_at(turn_deadline):
                        first = await _next_events(upstream, reader)
                except TimeoutError:
                    raise LLMTimeout(
                        f"the model's answer took longer than {self.turn_timeout:g}s"
                    ) from None
        except BaseException:
            await _close(upstream)
            raise
        if not first or first is BEGUN_ONLY:  # the reader raises first: never here
            await _close(upstream)
            raise LLMNoAnswer("the model's stream ended without an answer")
        return upstream, reader, first


BEGUN_ONLY: list[LLMEvent] = []
"""What :func:`_next_events` says for a tool call begun (whose arguments still stream)."""


async def _next_events(upstream: Upstream, reader: SSEReader) -> list[LLMEvent]:
    """Read ``upstream`` up to its next events: text, or the end of the answer.

    :data:`BEGUN_ONLY` when the first thing read is the start of a tool call. A stream that
    fails or ends without an answer raises (:class:`~engine.errors.LLMError`).
    """
    read = upstream.read
    try:
        while not reader.done:
            chunk = await read()
            if not chunk:
                tail = reader.tail()
                if tail is not None:
                    return [tail]
                break
            event = reader.feed(chunk)
            if isinstance(event, Begun):
                return BEGUN_ONLY
            if event is not None:
                return [event]
    except Exception as exc:
        failure = stream_failure(exc)
        if failure is None:
            raise
        raise failure from exc
    return reader.finish()


def _failed(exc: LLMError) -> LLMError:
    """``exc`` as the turn reports it: a failed request names itself so, whatever its kind."""
    if isinstance(exc, LLMTimeout | RequestRefused | LLMNoAnswer):
        return exc
    if str(exc).startswith("the model request failed"):
        return exc
    return LLMError(f"the model request failed: {exc}")


def _chat_path(client: openai.AsyncOpenAI, model: str) -> str:
    # The Azure client maps the model to its deployment URL only for JSON bodies it encodes
    # itself; we send pre-encoded bytes, so we build that URL the same way it would.
    if isinstance(client, openai.AsyncAzureOpenAI) and "/deployments" not in client.base_url.path:
        return f"/deployments/{quote(model, safe='')}{CHAT_PATH}"
    return CHAT_PATH


async def _close(upstream: Upstream | None) -> None:
    if upstream is not None:
        # Shielded so that a cancelled turn still releases the upstream socket right away.
        await asyncio.shield(upstream.close())


def make_client(settings: Settings) -> openai.AsyncOpenAI | None:
    """The process's one model client, from the ``openai`` package's standard variables.

    Returns ``None`` when no model is configured; the server then runs without one and says so.
    Must be called on the running event loop (the aiohttp transport binds to it).
    """
    chosen = provider(settings)
    if chosen is None:
        return None
    common: dict[str, Any] = {
        "max_retries": 0,  # retries are ours, inside the first-token deadline
        "timeout": settings.turn_timeout,
        "http_client": openai.DefaultAioHttpClient(),
    }
    if chosen == "azure":
        return openai.AsyncAzureOpenAI(**common)
    # Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) need no key.
    api_key = os.environ.get("OPENAI_API_KEY") or "none"
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
        usage=settings.llm_usage,
        gather=settings.gather_ms / 1000,
    )


__all__ = ["ChatModel", "OpenAIChatModel", "make_client", "make_model"]
