"""The model's requests in one turn, measured: how many, their tokens and their timings."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence

from engine.agent import ModelUse

from .events import LLMEvent, Usage
from .model import ChatModel, Message


class Meter:
    """Counts the requests streamed through :meth:`wrap`; :meth:`use` sums them up.

    The :class:`~engine.llm.events.Usage` events are taken out of the stream here, so whoever
    reads the wrapped stream sees only text and tool calls.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.first_token_s: float | None = None
        self.total_s = 0.0

    async def wrap(self, events: AsyncIterator[LLMEvent]) -> AsyncIterator[LLMEvent]:
        """``events``, measured (and closed with the wrapper, so an upstream stream ends too)."""
        started = self.begin()
        try:
            async for event in events:
                if self.saw(event, started):
                    yield event
        finally:
            self.end(started)
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    # A reader of a stream that measures it itself, with no generator in between (a step less
    # for every piece): begin, then each event seen, then end.

    def begin(self) -> float:
        """A request starts; returns its start, for :meth:`saw` and :meth:`end`."""
        self.requests += 1
        return time.perf_counter()

    def saw(self, event: LLMEvent, started: float) -> bool:
        """An event of the request begun at ``started``; ``False``: a count, not to pass on."""
        if self.first_token_s is None:
            self.first_token_s = time.perf_counter() - started
        if isinstance(event, Usage):
            self.prompt_tokens = (self.prompt_tokens or 0) + event.prompt_tokens
            self.completion_tokens = (self.completion_tokens or 0) + event.completion_tokens
            return False
        return True

    def end(self, started: float) -> None:
        """The request begun at ``started`` is over (answered, failed or cut off)."""
        self.total_s += time.perf_counter() - started

    def model(self, model: ChatModel) -> ChatModel:
        """``model`` with every stream it opens measured by this meter."""
        return _Metered(model, self)

    def use(self) -> ModelUse | None:
        """What the requests so far amount to (``None`` if there were none)."""
        if not self.requests:
            return None
        first = self.first_token_s
        return ModelUse(
            requests=self.requests,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            first_token_ms=round(first * 1000, 1) if first is not None else None,
            total_ms=round(self.total_s * 1000, 1),
        )


class _Metered:
    """A :class:`ChatModel` whose streams a :class:`Meter` measures."""

    def __init__(self, model: ChatModel, meter: Meter) -> None:
        self._model = model
        self._meter = meter

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None = None,
        *,
        tool_choice: Message | str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """The wrapped model's stream, measured."""
        return self._meter.wrap(self._model.stream(messages, tools, tool_choice=tool_choice))
