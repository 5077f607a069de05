"""What the engine asks of a model (:class:`ChatModel`), and whether the settings configure one.

Apart from the ``openai`` client that implements it (:mod:`engine.llm.client`): flows, prompts
and ``dialplan validate`` need the protocol and the answer to "is there a model?", not the
client's hundreds of modules.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeAlias

from engine.settings import Settings

from .events import LLMEvent

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


def provider(settings: Settings) -> Literal["openai", "azure"] | None:
    """``openai`` or ``azure`` when the settings and the variables configure a model."""
    chosen = settings.llm_provider
    if chosen == "none":
        return None
    if chosen == "auto":
        chosen = "azure" if os.environ.get("AZURE_OPENAI_ENDPOINT") else "openai"
    if chosen == "azure":
        keyed = os.environ.get("AZURE_OPENAI_API_KEY") or os.environ.get("AZURE_OPENAI_AD_TOKEN")
        return "azure" if keyed else None
    configured = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    return "openai" if configured else None


def model_configured(settings: Settings) -> bool:
    """Whether the server would have a model (no client is made)."""
    return provider(settings) is not None
