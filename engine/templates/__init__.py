"""Templates: the one sandboxed Jinja environment, and the filters that make values speakable."""

from engine.templates.environment import compile_string, load_template, make_environment, render
from engine.templates.spoken import SPOKEN_FILTERS

__all__ = ["SPOKEN_FILTERS", "compile_string", "load_template", "make_environment", "render"]
