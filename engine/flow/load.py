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

from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

from engine.errors import AuthoringError, AuthoringErrors

from .checks import check_flow
from .parse import LoadedFlow, digest, parse_flow, template_files
from .paths import check_paths
from .plugins import Extensions


def load_flow(path: Path, env: SandboxedEnvironment, extensions: Extensions) -> LoadedFlow:
    """Load and check one flow file; raise :class:`AuthoringErrors` listing every problem."""
    flow, data = parse_flow(path)
    files = (path, *template_files(flow, env))
    loaded = LoadedFlow(flow, path, data, files, digest(files))
    errors: list[AuthoringError] = []
    for index, module in enumerate(flow.plugins):
        try:
            extensions.load(module, loaded.where("plugins", index))
        except AuthoringError as exc:
            errors.append(exc)
    errors += check_flow(loaded, env, extensions)
    if not errors:  # the proof walks the graph, which must be sound first
        errors += check_paths(loaded, env)
    if errors:
        raise AuthoringErrors(errors)
    return loaded
