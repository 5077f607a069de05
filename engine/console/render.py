"""The console's HTML: one Jinja environment over the templates shipped in the package.

Autoescape is on for every template: whatever a caller said, a flow holds or the call log
keeps is shown as text, never as markup, and never run as a template (it only ever arrives as
a value). This is a different environment from the sandboxed one that renders spoken prompts,
where escaping HTML would be wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from quart import Response

ENV = Environment(
    loader=PackageLoader("engine.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(moment: datetime | float | None) -> str:
    """A moment in the server's local time, to the second (``-`` for none)."""
    if moment is None:
        return "-"
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment).astimezone()
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """``1m 05s``, ``42s`` (``-`` for none)."""
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def shown(value: Any) -> str:
    """A slot or action value as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def role(name: str | None) -> str:
    """Who spoke, for people: the platform's ``user`` is the caller."""
    return "caller" if name == "user" else (name or "?")


def clock(seconds: float | None) -> str:
    """Seconds into a call as ``m:ss`` (``-`` for none)."""
    if seconds is None:
        return "-"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def web_link(url: object) -> str | None:
    """``url`` if it is an http(s) address a page may link to or play, else ``None``.

    Addresses come from the platform's events: anything else (``javascript:``, ``data:``)
    is never put in a page as a link.
    """
    if not isinstance(url, str):
        return None
    scheme = urlsplit(url).scheme.lower()
    return url if scheme in ("http", "https") else None


def money(cents: float | None, unit: str | None) -> str:
    """A cost as people read it: ``$0.43 (42.5 USD cents)``; other units as they are."""
    if cents is None:
        return "-"
    if unit == "USD cents":
        return f"${cents / 100:,.2f} ({cents:g} US cents)"
    return f"{cents:g} {unit or ''}".strip()


ENV.filters.update(
    when=when,
    duration=duration,
    shown=shown,
    role=role,
    clock=clock,
    web_link=web_link,
    money=money,
)


def fragment(template: str, **context: Any) -> str:
    """A template rendered to text."""
    return ENV.get_template(template).render(**context)


def page(template: str, status: int = 200, **context: Any) -> Response:
    """A whole page."""
    return Response(fragment(template, **context), status, content_type="text/html; charset=utf-8")
