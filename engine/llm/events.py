"""What a model's answer is made of: text, finished tool calls, and the tokens it used.

Plain values, apart from how they arrive (:mod:`engine.llm.stream`), so that the flow engine,
``dialplan validate`` and the test kit use them without loading an HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


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
