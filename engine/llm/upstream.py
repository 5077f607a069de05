"""The HTTP request of one answer: sent straight through aiohttp, as the ``openai`` client would.

Building and sending a request through the ``openai`` client (its options, headers, URL merging,
then httpx and its aiohttp transport) costs more CPU per turn than the rest of a turn's server
work together (measured in ``bench/README.md``). The request itself never changes shape within a
process: the same URL, the same headers, a body of the same form. So the client builds it
**once** (:func:`endpoint_of`, through its own request builder, so URL, auth and headers are
exactly what it would send: OpenAI, Azure deployments and ``api-version``, compatible servers),
and every answer is then one aiohttp POST with a pre-encoded body.

Credentials that change (an API-key provider, an Azure AD token provider, workload identity, a
provider runtime) cannot be frozen into headers: for such clients every request goes through the
``openai`` client's own path instead (:class:`ClientUpstream`), which refreshes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

import aiohttp
import openai

from engine.errors import LLMError

from .stream import describe

try:  # openai >= 3 speaks through httpx2; older releases through httpx.
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx as _http  # type: ignore[no-redef,import-not-found,unused-ignore]

CHAT_PATH = "/chat/completions"
# Set per connection by the transport, not by the client: never copied from its request.
_TRANSPORT_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})
_RETRIABLE_STATUS = frozenset({408, 409, 429})  # and 5xx: as the openai client retries


class RequestRefused(LLMError):
    """The provider refused the request as such (400, 401, 404...): trying again cannot help."""


class Upstream(Protocol):
    """One streaming answer on the wire."""

    @property
    def chunks(self) -> AsyncIterable[bytes]:
        """The body as it arrives."""
        ...

    @property
    def read(self) -> Callable[[], Awaitable[bytes]]:
        """Reads the next bytes of the body as they arrive; ``b""`` at its end.

        The same bytes as :attr:`chunks` (read one or the other), with no async iterator
        between the stream and its reader: one step less for every piece of an answer.
        """
        ...

    async def gather(self, seconds: float) -> None:
        """Let the body gather for ``seconds``: what arrives meanwhile comes in the next read."""
        ...

    async def close(self) -> None:
        """Release the connection (reused if the body was read to its end, else dropped)."""
        ...


@dataclass(frozen=True)
class Endpoint:
    """Where chat completions are sent and the headers they carry, as the client builds them."""

    url: str
    headers: Mapping[str, str]


def static_credentials(client: openai.AsyncOpenAI) -> bool:
    """Whether the client's credentials stay the same for every request (can be frozen)."""
    refreshing = (
        "_api_key_provider",
        "_provider_runtime",
        "_workload_identity_auth",
        "_azure_ad_token_provider",
    )
    return all(getattr(client, name, None) is None for name in refreshing) and not callable(
        getattr(client, "api_key", None)
    )


async def endpoint_of(client: openai.AsyncOpenAI, model: str) -> Endpoint:
    """The URL and headers ``client`` would send a streaming chat completion for ``model`` with."""
    from openai._models import FinalRequestOptions  # the client's own request builder

    options = FinalRequestOptions.construct(
        method="post",
        url=CHAT_PATH,
        json_data={"model": model, "messages": [], "stream": True},
        headers={"Content-Type": "application/json"},
    )
    options = await client._prepare_options(options)
    request = client._build_request(options)
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in _TRANSPORT_HEADERS
    }
    return Endpoint(str(request.url), headers)


class DirectUpstream:
    """An answer streamed by aiohttp from an :class:`Endpoint`."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.expired = False
        """The answer took too long and :meth:`expire` ended it."""

    def expire(self) -> None:
        """End the answer now (its reader then fails): it stalled past its deadline.

        One timer per answer does this, where a read timeout would move a timer on every read.
        """
        self.expired = True
        self._response.close()

    @property
    def chunks(self) -> AsyncIterable[bytes]:
        """The body as it arrives (decompressed when the server compressed it)."""
        return self._response.content.iter_any()

    @property
    def read(self) -> Callable[[], Awaitable[bytes]]:
        """The response's own ``readany``: whatever has arrived, ``b""`` at the end."""
        return self._response.content.readany

    async def gather(self, seconds: float) -> None:
        """Wait ``seconds`` with the socket unread, so that one read takes what came meanwhile.

        While a socket is read, every packet the model sends (a token each) is received, parsed
        and queued on its own; left unread, the kernel holds them and one receive takes them
        all. A connection the HTTP client holds back itself (its buffer is full) is left to it.
        """
        connection = self._response.connection
        transport = connection.transport if connection is not None else None
        if transport is None or not transport.is_reading():
            await asyncio.sleep(seconds)
            return
        transport.pause_reading()
        try:
            await asyncio.sleep(seconds)
        finally:
            if not transport.is_closing():
                transport.resume_reading()

    async def close(self) -> None:
        """Keep the connection for the next answer when the body was read to its end."""
        response = self._response
        if response.content.at_eof():
            response.release()
        else:
            response.close()  # drops the connection: the upstream stops generating


NO_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None)


async def open_direct(
    session: aiohttp.ClientSession, endpoint: Endpoint, body: bytes
) -> DirectUpstream:
    """POST ``body`` to ``endpoint``; an HTTP error status raises (retriable or not).

    No timeout of aiohttp's: the caller bounds the wait for the answer's start, and a stall
    after it with :meth:`DirectUpstream.expire`.
    """
    try:
        response = await session.post(
            endpoint.url, data=body, headers=endpoint.headers, timeout=NO_TIMEOUT
        )
    except aiohttp.ClientError as exc:
        raise LLMError(f"the model request failed: {describe(exc)}") from exc
    if response.status >= 400:
        await _discard(response)
        error = f"the model request failed: HTTP {response.status}"
        if response.status in _RETRIABLE_STATUS or response.status >= 500:
            raise LLMError(error)
        raise RequestRefused(error)
    return DirectUpstream(response)


async def _discard(response: aiohttp.ClientResponse) -> None:
    # The error body says what went wrong on the provider's side; it is not ours to log (it can
    # echo the request), so it is read only to free the connection.
    try:
        async with asyncio.timeout(2):
            await response.read()
    except (TimeoutError, aiohttp.ClientError):
        pass
    finally:
        response.release()


class ClientUpstream:
    """An answer streamed through the ``openai`` client's own request path."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._read: Callable[[], Awaitable[bytes]] | None = None

    @property
    def chunks(self) -> AsyncIterable[bytes]:
        """The body as it arrives."""
        response = self._response
        # An uncompressed body is read straight from the transport's stream: the client's own
        # iterators add a decoder and a re-chunker per token.
        if response.headers.get("content-encoding", "identity") == "identity":
            return cast(AsyncIterable[bytes], response.stream)
        return cast(AsyncIterable[bytes], response.aiter_bytes())

    @property
    def read(self) -> Callable[[], Awaitable[bytes]]:
        """Reads :attr:`chunks` one at a time (the same iterator every time it is asked)."""
        if self._read is None:
            chunks = aiter(self.chunks)

            async def read() -> bytes:
                async for chunk in chunks:
                    if chunk:  # an empty chunk is not the end: that is StopAsyncIteration
                        return chunk
                return b""

            self._read = read
        return self._read

    async def gather(self, seconds: float) -> None:
        """Nothing: waiting would hold the words back, not join them.

        The client's stream hands over what it received a packet at a time, however much waits.
        """

    async def close(self) -> None:
        """Release or drop the connection, as the client decides."""
        await self._response.aclose()


async def open_via_client(
    client: openai.AsyncOpenAI, path: str, body: bytes, read_timeout: float
) -> ClientUpstream:
    """POST ``body`` through ``client`` (which refreshes its credentials per request)."""
    try:
        response = await client.post(
            path,
            cast_to=_http.Response,
            content=body,
            stream=True,
            options={
                "headers": {"Content-Type": "application/json"},
                "max_retries": 0,
                "timeout": read_timeout,
            },
        )
    except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
        raise LLMError(f"the model request failed: {describe(exc)}") from exc
    except openai.APIError as exc:
        raise RequestRefused(f"the model request failed: {describe(exc)}") from exc
    return ClientUpstream(response)
