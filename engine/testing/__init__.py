"""Test doubles for dialplan's tests and benchmarks.

:mod:`engine.testing.llm_server` is a scripted OpenAI-compatible chat-completions server over
real HTTP (:class:`LLMTestServer`, :class:`Reply`, :class:`ToolCall`, :class:`LLMStats`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.testing.llm_server import LLMStats, LLMTestServer, Reply, ToolCall

__all__ = ["LLMStats", "LLMTestServer", "Reply", "ToolCall"]

# Imported lazily: an eager import here makes ``python -m engine.testing.llm_server`` warn that
# the module was already in sys.modules before it ran as __main__.
_LAZY = dict.fromkeys(
    ("LLMStats", "LLMTestServer", "Reply", "ToolCall"), "engine.testing.llm_server"
)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
