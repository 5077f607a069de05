"""Test doubles for dialplan's tests and benchmarks.

:mod:`engine.testing.llm_server` is a scripted OpenAI-compatible chat-completions server over
real HTTP (:class:`LLMTestServer`, :class:`Reply`, :class:`ToolCall`, :class:`LLMStats`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.testing.llm_server import LLMStats, LLMTestServer, Reply, ToolCall

__all__ = ["LLMStats", "LLMTestServer", "Reply", "ToolCall"]

# Imported lazily: an eager import here makes ``python -m engine.testing.llm_server`` warn that
# the module was already in sys.modules before it ran as __main__; and the pytest plugin, which
# every pytest run of a project with dialplan installed imports, must stay light.
__getattr__, __dir__ = exports(
    __name__, {"engine.testing.llm_server": ("LLMStats", "LLMTestServer", "Reply", "ToolCall")}
)
