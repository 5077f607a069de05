"""The single-prompt agent: one system prompt; the model answers every turn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.prompt.agent import (
        PromptAgent,
        PromptAgentSpec,
        PromptConversation,
        prompt_agent_spec,
    )

__all__ = ["PromptAgent", "PromptAgentSpec", "PromptConversation", "prompt_agent_spec"]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.prompt.agent": (
            "PromptAgent",
            "PromptAgentSpec",
            "PromptConversation",
            "prompt_agent_spec",
        ),
    },
)
