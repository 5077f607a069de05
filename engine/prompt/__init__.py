"""The single-prompt agent: one system prompt; the model answers every turn."""

from engine.prompt.agent import PromptAgent, PromptAgentSpec, PromptConversation, prompt_agent_spec

__all__ = ["PromptAgent", "PromptAgentSpec", "PromptConversation", "prompt_agent_spec"]
