"""Templates: the one sandboxed Jinja environment, and the filters that make values speakable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.templates.environment import compile_string, load_template, make_environment, render
    from engine.templates.spoken import SPOKEN_FILTERS
    from engine.templates.values import Value, compile_value

__all__ = [
    "SPOKEN_FILTERS",
    "Value",
    "compile_string",
    "compile_value",
    "load_template",
    "make_environment",
    "render",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.templates.environment": (
            "compile_string",
            "load_template",
            "make_environment",
            "render",
        ),
        "engine.templates.spoken": ("SPOKEN_FILTERS",),
        "engine.templates.values": ("Value", "compile_value"),
    },
)
