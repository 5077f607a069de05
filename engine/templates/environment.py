"""The one sandboxed Jinja environment that renders every prompt and spoken line.

Templates are authored files (under the prompts folder) or lines inside flow files; caller
speech only ever reaches them as a *value* in the context, never as template source. The
sandbox keeps a template from reaching Python internals, ``StrictUndefined`` turns a misspelt
variable into an error instead of a silent blank in what the agent says, and there is no HTML
autoescaping because the output is spoken, not shown.

An empty slot is ``None``. In text it says nothing (never the word "None"), and ``default``
fills it as it fills a missing value: ``{{ slots.note | default('no note') }}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import Location, TemplateError
from engine.templates.spoken import SPOKEN_FILTERS


def make_environment(
    prompts_dir: Path | None = None,
    filters: Mapping[str, Callable[..., Any]] = SPOKEN_FILTERS,
) -> SandboxedEnvironment:
    """A sandboxed environment loading templates from ``prompts_dir`` (if given).

    ``filters`` are added to Jinja's own; by default the spoken filters (``spoken_date``, ...).
    """
    env = _Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir)) if prompts_dir else None,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change while the server runs (edited prompts are picked up for new calls).
        auto_reload=True,
        finalize=_blank_none,
    )
    env.filters.update(filters)
    env.filters["default"] = env.filters["d"] = _default
    return env


class _Environment(SandboxedEnvironment):
    """The sandbox, with each template's globals in a plain dict."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # Jinja chains a template's globals onto the environment's (a ChainMap), and every
        # render copies them into its context name by name through the chain: some three
        # quarters of the time a short line takes to render. No global is set after templates
        # are loaded (as Jinja asks), so a copy holds the same names, the template's own first.
        return {**self.globals, **(d or {})}


def _blank_none(value: Any) -> Any:
    # An empty slot in a line says nothing; Jinja would print "None".
    return "" if value is None else value


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's ``default``, which also fills ``None``: an empty slot is a missing value."""
    if value is None or isinstance(value, jinja2.Undefined) or (boolean and not value):
        return default_value
    return value


def load_template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Load a template by file name, turning Jinja's errors into ``file:line`` authoring errors."""
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound:
        raise TemplateError(
            f"template {name!r} not found", Location(name), hint=_searched(env)
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        where = Location(exc.filename or name, exc.lineno)
        raise TemplateError(exc.message or "syntax error", where) from None


def compile_string(
    env: jinja2.Environment, source: str, origin: str = "<string>"
) -> jinja2.Template:
    """Compile an inline template (a greeting, a ``say`` line) with errors naming ``origin``.

    ``origin`` (``file:line`` of the line in its flow file) is also the template's name, so a
    failure to render it names that place too.
    """
    try:
        template = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", Location(origin, exc.lineno)) from None
    template.name = origin
    return template


def render(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render ``template``; an undefined name or a sandbox violation is a :class:`TemplateError`.

    The error names the file and line that failed: a template file's own line, or the flow
    file's line of an inline template.
    """
    try:
        return template.render(context).strip()
    except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError) as exc:
        raise TemplateError(f"cannot render: {exc}", _failed_at(template, exc)) from exc


def _failed_at(template: jinja2.Template, exc: BaseException) -> Location:
    # Jinja rewrites a render error's traceback to run through the template's own lines.
    line = None
    frame = exc.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == template.filename:
            line = frame.tb_lineno
        frame = frame.tb_next
    if template.filename and template.filename != "<template>":
        return Location(template.filename, line)
    name = template.name or "<string>"
    file, _, number = name.rpartition(":")
    return Location(file, int(number)) if file and number.isdigit() else Location(name)


def _searched(env: jinja2.Environment) -> str:
    loader = env.loader
    if isinstance(loader, jinja2.FileSystemLoader):
        return "looked in " + ", ".join(str(path) for path in loader.searchpath)
    return "no prompts folder is configured"
