"""Loading a flow file: every pass, all before a call is accepted.

1. Safe YAML and the schema (:mod:`engine.flow.parse`).
2. The flow's plugins, imported into the project's registries (:mod:`engine.flow.plugins`).
3. Slot types, the state graph, templates, guards and actions (:mod:`engine.flow.checks`).
4. The path proof: no state uses a slot that some way into it leaves empty
   (:mod:`engine.flow.paths`).

Every error found is collected and reported at once as ``file:line: message (hint)``; a flow
with any error never takes a call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

from engine.errors import AuthoringError, AuthoringErrors

from .checks import check_flow
from .parse import LoadedFlow, digest, parse_flow, template_files
from .paths import check_paths
from .plugins import Extensions


def load_flow(path: Path, env: SandboxedEnvironment, extensions: Extensions) -> LoadedFlow:
    """Load and check one flow file; raise :class:`AuthoringErrors` listing every problem.

    The errors of every pass come together, sorted by file and line; a file with schema errors
    is still checked for the rest on what of it is valid. Warnings (things that work, but
    probably not as meant) are on the loaded flow, or on the raised errors.
    """
    parsed = parse_flow(path)
    assert parsed.flow is not None  # parse_flow raises when nothing is usable
    flow = parsed.flow
    files = (path, *template_files(flow, env))
    loaded = LoadedFlow(
        flow,
        path,
        parsed.data,
        files,
        digest(files),
        parsed.text,
        parsed.cut,
        tuple(parsed.warnings),
    )
    errors: list[AuthoringError] = list(parsed.errors)
    for index, module in enumerate(flow.plugins):
        try:
            extensions.load(module, loaded.where("plugins", index))
        except AuthoringError as exc:
            errors.append(exc)
    used: list[Path] = []
    errors += check_flow(loaded, env, extensions, used)
    if not errors:  # the proof walks the graph, which must be sound first
        errors += check_paths(loaded, env)
    if errors:
        raise AuthoringErrors(sorted(errors, key=_order(path)), parsed.warnings)
    # Included and imported files are part of the version too: editing one reloads the flow.
    extra = tuple(file for file in dict.fromkeys(used) if file not in files)
    if extra:
        loaded = replace(loaded, files=files + extra, version=digest(files + extra))
    return loaded


def _order(path: Path) -> Callable[[AuthoringError], tuple[bool, str, int]]:
    # The flow file's own errors first, by line; then those in its template files.
    def key(error: AuthoringError) -> tuple[bool, str, int]:
        file, line = error.sort_key()
        return (file != str(path), file, line)

    return key
