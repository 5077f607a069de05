"""The model's requests in one turn, measured: how many, their tokens and their timings."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from engine.agent import ModelUse

from .stream import LLMEvent, Usage


class Meter:
    """Counts the requests streamed through :meth:`wrap`; :meth:`use` sums them up.

    The :class:`~engine.llm.stream.Usage` events are taken out of the stream here, so whoever
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
        self.requests += 1
        started = time.perf_counter()
        waiting = self.first_token_s is None
        try:
            async for event in events:
                if waiting:
                    self.first_token_s = time.perf_counter() - started
                    waiting = False
                if isinstance(event, Usage):
                    self.prompt_tokens = (self.prompt_tokens or 0) + event.prompt_tokens
                    self.completion_tokens = (self.completion_tokens or 0) + event.completion_tokens
                    continue
                yield event
        finally:
            self.total_s += time.perf_counter() - started
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

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
