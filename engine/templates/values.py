"""Templates that are exactly one expression give their value, not its text.

An action's argument ``"{{ slots.party_size }}"`` is the number 4, ``"{{ slots.booked }}"`` a
boolean, ``"{{ slots.offered }}"`` a list and an empty slot ``None`` (JSON ``null``): a Python
action or a webhook gets the value the call holds, typed as JSON types it. A template with
anything else in it (``"table for {{ slots.party_size }}"``) is text, rendered as every line
is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import jinja2
from jinja2 import nodes

from engine.errors import Location, TemplateError

Value: TypeAlias = Callable[[Mapping[str, Any]], Any]
"""A compiled one-expression template: the context in, the JSON-typed value out."""

_ONE = re.compile(r"^\{\{-?(?P<expression>.*?)-?\}\}$", re.DOTALL)


def compile_value(env: jinja2.Environment, source: str, origin: str = "<string>") -> Value | None:
    """The value of ``source`` when it is exactly one ``{{ expression }}``; else ``None``.

    Whitespace around the expression's braces does not count: ``" {{ x }} "`` is ``x``.
    """
    match = _ONE.match(source.strip())
    if match is None:
        return None
    try:
        body = env.parse(source.strip()).body
        expression = env.compile_expression(match.group("expression"), undefined_to_none=False)
    except jinja2.TemplateSyntaxError:
        return None  # not one expression after all; compiled (and reported) as text
    if not (
        len(body) == 1
        and isinstance(body[0], nodes.Output)
        and len(body[0].nodes) == 1
        and not isinstance(body[0].nodes[0], nodes.TemplateData)
    ):
        return None  # "{{ a }} and {{ b }}": text

    def value(context: Mapping[str, Any]) -> Any:
        try:
            return plain(expression(**context))
        except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError) as exc:
            raise TemplateError(f"cannot render: {exc}", Location(origin)) from exc

    return value


def plain(value: Any) -> Any:
    """``value`` as JSON types it: ``None``, booleans, numbers, text, lists and objects.

    Anything else (a date, a range) becomes its text, as it would in a line; an undefined name
    is an error, as it is in a line.
    """
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, naming what is undefined
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    return str(value)
