"""The ``dialplan`` command line."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from . import __version__
from .settings import Settings

APP_PATH = "engine.server:create_app()"


@click.group()
@click.version_option(__version__, prog_name="dialplan")
def main() -> None:
    """Dialplan: scripted voice agents for the Custom LLM WebSocket protocol."""


def _export(name: str, value: object) -> None:
    # Flags travel to worker processes (hypercorn spawns them) as DIALPLAN_* variables.
    if value is not None:
        os.environ[f"DIALPLAN_{name.upper()}"] = str(value)


@main.command()
@click.option("--host", help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, help="TCP port [default: 8080].")
@click.option("--workers", type=int, help="Worker processes [default: 1].")
@click.option("--prefix", "path_prefix", help="WebSocket path prefix [default: /llm-websocket].")
@click.option("--model", help="Model or Azure deployment name.")
@click.option("--prompt", help="System prompt template, relative to the prompts folder.")
@click.option("--prompts-dir", type=click.Path(file_okay=False), help="Prompts folder.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
@click.option("--log-format", type=click.Choice(["console", "json"]))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(reload: bool, **flags: object) -> None:
    """Run the call server (hypercorn) with the configured agent.

    The shared secret is read from DIALPLAN_SECRET only, so it never shows in a process list.
    """
    for name, value in flags.items():
        _export(name, value)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from None
    from .server import setup_errors

    # Check prompts and flows now: a broken file stops the start with file:line.
    errors = setup_errors(settings)
    if errors:
        raise click.ClickException("cannot start:\n" + "\n".join(errors))

    from hypercorn.run import run

    from .server import hypercorn_config

    config = hypercorn_config(settings)
    config.application_path = APP_PATH
    config.worker_class = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    # workers == 0 runs in this process; the reloader and several workers need child processes.
    config.workers = settings.workers if (reload or settings.workers > 1) else 0
    config.use_reloader = reload
    click.echo(
        f"dialplan {__version__} listening on ws://{settings.host}:{settings.port}"
        f"{settings.path_prefix}/<call_id>",
        err=True,
    )
    sys.exit(run(config))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--prompts-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON document on stdout, for editors and CI.",
)
def validate(paths: tuple[Path, ...], prompts_dir: Path | None, fmt: str) -> None:
    """Check flow files (default: the flows folder); exit 1 if any has an error.

    Every problem is listed as `file:line: message (hint)`. With --format json the output is
    `{"files": [{"path", "ok", "errors": [{"file", "line", "message", "hint"}]}], "ok": N,
    "failed": N}`; the exit code is the same.
    """
    import importlib
    import json

    from .errors import AuthoringError, AuthoringErrors
    from .loader import flow_files, load_flow
    from .prompts import make_environment
    from .voice import VOICE_FILTERS

    settings = Settings()
    for module in settings.plugins:
        importlib.import_module(module)
    prompts = prompts_dir or settings.prompts_dir
    env = make_environment(prompts, VOICE_FILTERS)
    files = flow_files(paths or (settings.flows_dir,))
    broken = 0
    total = 0
    report: list[dict[str, object]] = []
    for path in files:
        errors: list[AuthoringError] = []
        try:
            load_flow(path, env, prompts)
        except AuthoringErrors as exc:
            errors = exc.errors
        except AuthoringError as exc:
            errors = [exc]
        if errors:
            broken += 1
            total += len(errors)
        if fmt == "json":
            report.append(
                {"path": str(path), "ok": not errors, "errors": [e.as_json() for e in errors]}
            )
        else:
            for error in errors:
                click.echo(str(error))
    ok = len(files) - broken
    if fmt == "json":
        click.echo(json.dumps({"files": report, "ok": ok, "failed": broken}, indent=2))
    else:
        click.echo(
            f"{len(files)} flow file(s) checked: {ok} ok, {broken} with errors ({total} error(s))",
            err=True,
        )
    sys.exit(1 if broken or not files else 0)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def schema(output: Path | None) -> None:
    """Print (or write) the JSON Schema of flow files, for editors and CI."""
    from .spec import flow_json_schema

    text = flow_json_schema()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


# Commands defined in their own modules.
from .chat import chat  # noqa: E402
from .graph import graph  # noqa: E402

main.add_command(graph)
main.add_command(chat)

from .authoring import new, test  # noqa: E402  (dialplan test / dialplan new)

main.add_command(test)
main.add_command(new)


if __name__ == "__main__":
    main()
