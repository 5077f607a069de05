"""The model's answer as events: server-sent chat-completion chunks to text and tool calls.

Splitting the byte stream and parsing each ``data:`` line here, instead of through the client's
typed stream, keeps the per-token cost to one JSON parse.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable

import aiohttp
import msgspec
import openai
import orjson

from engine.errors import LLMError, LLMNoAnswer, LLMTimeout

from .events import LLMEvent, TextDelta, ToolCallRequest, Usage

try:  # openai >= 3 speaks through httpx2; older releases through httpx.
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx as _http  # type: ignore[no-redef,import-not-found,unused-ignore]


class Begun:
    """The model began a tool call: its first piece, which meets the first-token deadline.

    A tool call comes out whole, once its arguments have all streamed; this marks the moment
    the model started it. Only :mod:`engine.llm.client` sees it (it is no :data:`LLMEvent`).
    """


BEGUN = Begun()


class _Delta(msgspec.Struct):
    content: str | None = None
    tool_calls: msgspec.Raw | None = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    """The fields of a chunk that carries text; any other is read the general way."""

    choices: list[_Choice] | None = None
    usage: msgspec.Raw | None = None
    error: msgspec.Raw | None = None


_CHUNK = msgspec.json.Decoder(_Chunk)


def _plain_text(data: bytes) -> tuple[str, bool] | None:
    """The text of a chunk and whether it finished a choice, for a chunk of text alone.

    ``None`` for anything else (tool calls, counts, an error, a field of another type), which
    :meth:`_Answer.text_of` reads the general way. A typed decoder skips building a dict per
    token.
    """
    try:
        chunk = _CHUNK.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if chunk.usage is not None or chunk.error is not None:
        return None
    text = ""
    finished = False
    for choice in chunk.choices or ():
        if choice.finish_reason:
            finished = True
        delta = choice.delta
        if delta is None:
            continue
        if delta.tool_calls is not None:
            return None
        if delta.content:
            text += delta.content
    return text, finished


class _Answer:
    """What one streamed answer has said so far: tool calls in pieces, the token counts."""

    def __init__(self) -> None:
        self.calls: dict[int, list[str]] = {}  # index -> [id, name, arguments...]
        self.usage: Usage | None = None
        self.done = False
        self.finished = False
        """A choice carried a finish reason: the model ended the answer, nobody cut it off."""
        self.said = False
        """Some text came, or a tool call."""

    def text_of(self, lines: list[bytes]) -> str:
        """The answer text in ``lines`` (up to ``[DONE]``); tool calls and counts are kept."""
        text: list[str] = []
        for line in lines:
            if not line.startswith(b"data:"):
                continue  # blank separators, comments and `event:` lines
            data = line[5:].strip()
            if data == b"[DONE]":
                self.done = True
                break
            plain = _plain_text(data)
            if plain is not None:
                if plain[1]:
                    self.finished = True
                if plain[0]:
                    text.append(plain[0])
                continue
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise LLMError("the model sent a malformed stream chunk") from None
            if chunk.get("error"):
                raise LLMError(f"the model reported an error mid-stream: {chunk['error']}")
            counts = chunk.get("usage")
            if counts:  # with `stream_options.include_usage`: a last chunk with no choices
                self.usage = Usage(
                    int(counts.get("prompt_tokens") or 0), int(counts.get("completion_tokens") or 0)
                )
            for choice in chunk.get("choices") or ():
                if choice.get("finish_reason"):
                    self.finished = True
                delta = choice.get("delta") or {}
                piece = delta.get("content")
                if piece:
                    text.append(piece)
                for call in delta.get("tool_calls") or ():
                    slot = self.calls.setdefault(call.get("index", 0), ["", ""])
                    if call.get("id"):
                        slot[0] = call["id"]
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot[1] = function["name"]
                    if function.get("arguments"):
                        slot.append(function["arguments"])
        return "".join(text)


class SSEReader:
    """Server-sent chat-completion chunks, read as the bytes arrive: bytes in, events out.

    A plain object rather than a generator of its own: a piece of the answer then passes through
    no extra layer of ``async`` iteration between the HTTP stream and whoever reads the answer
    (:meth:`engine.llm.OpenAIChatModel.stream` drives it straight from the stream's reads).
    :func:`sse_events` is the same as an async generator.
    """

    __slots__ = ("_answer", "_ended", "_pending", "begun")

    def __init__(self) -> None:
        self._answer = _Answer()
        self._pending = b""
        self._ended = False
        self.begun = False
        """Some text came, or the first piece of a tool call."""

    @property
    def done(self) -> bool:
        """``[DONE]`` was read: nothing after it counts."""
        return self._answer.done

    def feed(self, chunk: bytes) -> TextDelta | Begun | None:
        """What one read of the stream says: its text as one delta, :data:`BEGUN`, or nothing.

        The pieces of text that arrive together come out as one delta: they would reach the
        caller at the same moment anyway, and each delta costs a step through every layer above
        and a frame to the platform.
        """
        # Splitting bytes ourselves skips the client's text decoders, which cost more per
        # token than parsing the JSON of the chunk.
        pending = self._pending + chunk if self._pending else chunk
        if b"\n" not in chunk:
            self._pending = pending
            return None
        *lines, self._pending = pending.split(b"\n")
        answer = self._answer
        text = answer.text_of(lines)
        if text:
            self.begun = True
            return TextDelta(text)
        if answer.calls and not self.begun:
            self.begun = True
            return BEGUN
        return None

    def tail(self) -> TextDelta | None:
        """The text of an unterminated last line, once the stream has ended without ``[DONE]``."""
        if self._answer.done or not self._pending:
            return None
        pending, self._pending = self._pending, b""
        text = self._answer.text_of([pending])
        if not text:
            return None
        self.begun = True
        return TextDelta(text)

    def finish(self) -> list[LLMEvent]:
        """The events of a stream that ended: its tool calls, then its token counts.

        A stream that ends without a finish reason (cut off: llama.cpp's server ends a request
        another one pre-empted so), or finished with neither text nor a tool call, raises
        :class:`~engine.errors.LLMNoAnswer`: taken as an answer, it is dead air on the call.
        Asked again, it has nothing more to say.
        """
        if self._ended:
            return []
        self._ended = True
        answer = self._answer
        if not answer.finished:
            raise LLMNoAnswer("the model's answer ended without a finish reason (cut off)")
        if not self.begun and not answer.calls:
            raise LLMNoAnswer("the model finished with neither text nor a tool call")
        events: list[LLMEvent] = []
        for index in sorted(answer.calls):
            call_id, name, *arguments = answer.calls[index]
            events.append(
                ToolCallRequest(call_id or f"call_{index}", name, "".join(arguments) or "{}")
            )
        if answer.usage is not None:
            events.append(answer.usage)
        return events


def stream_failure(exc: BaseException) -> LLMError | None:
    """What a failed read of the model's stream means for the answer (``None``: not ours).

    A read timeout (aiohttp's or httpx's) is a stalled answer; a broken connection or an
    error of the client's is a broken stream.
    """
    if isinstance(exc, LLMError):
        return None  # already said what it is
    if isinstance(exc, TimeoutError | _http.TimeoutException):
        return LLMTimeout(f"the model's answer stalled: {describe(exc)}")
    if isinstance(exc, aiohttp.ClientError | _http.HTTPError | OSError | openai.APIError):
        return LLMError(f"the model stream broke: {describe(exc)}")
    return None


async def sse_events(chunks: AsyncIterable[bytes]) -> AsyncGenerator[LLMEvent | Begun, None]:
    """Parse server-sent chat-completion chunks into text deltas and finished tool calls.

    What :class:`SSEReader` reads, as a generator: one delta per read of the stream,
    :data:`BEGUN` for the first piece of a tool call that no text came before, then the tool
    calls and the token counts; a cut-off or empty answer raises
    :class:`~engine.errors.LLMNoAnswer`.
    """
    reader = SSEReader()
    try:
        async for chunk in chunks:
            event = reader.feed(chunk)
            if event is not None:
                yield event
            if reader.done:
                break
        else:
            tail = reader.tail()
            if tail is not None:
                yield tail
    except Exception as exc:
        failure = stream_failure(exc)
        if failure is None:
            raise
        raise failure from exc
    for last in reader.finish():
        yield last


def describe(exc: BaseException) -> str:
    """A short, secret-free description of a transport or API error for logs and messages."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
