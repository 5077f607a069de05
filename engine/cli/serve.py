"""``dialplan serve``: run the call server."""

from __future__ import annotations

import errno
import importlib.util
import ipaddress
import os
import secrets
import shlex
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import click
from pydantic import SecretStr

from engine import __version__
from engine.project import Project
from engine.records import Database, RecordsError
from engine.settings import Settings

from . import _project
from ._settings import OperatorError

if TYPE_CHECKING:
    from hypercorn.config import Config, Sockets

APP_PATH = "engine.server:create_app()"


def _export(name: str, value: object) -> None:
    # Flags travel to worker processes (hypercorn spawns them) as DIALPLAN_* variables.
    if value is not None:
        os.environ[f"DIALPLAN_{name.upper()}"] = str(value)


@click.command()
@click.option("--host", help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port [default: 8080].")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [default: 1].")
@click.option("--prefix", "path_prefix", help="WebSocket path prefix [default: /llm-websocket].")
@click.option("--flow", help="Flow for calls that name none [default: the only flow].")
@click.option("--flows-dir", type=click.Path(file_okay=False), help="Flows folder.")
@click.option(
    "--provider",
    "llm_provider",
    type=click.Choice(["auto", "openai", "azure", "none"]),
    help="Where the model comes from [default: auto: Azure if AZURE_OPENAI_ENDPOINT is set, "
    "else OpenAI-style; none: no model].",
)
@click.option("--model", metavar="NAME", help="Model or Azure deployment name.")
@click.option("--prompt", help="System prompt template, relative to the prompts folder.")
@click.option("--prompts-dir", type=click.Path(file_okay=False), help="Prompts folder.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
@click.option("--log-format", type=click.Choice(["console", "json"]))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@click.option(
    "--local-console",
    is_flag=True,
    help="Listening on this machine alone with no DIALPLAN_CONSOLE_TOKEN, open the console with "
    "a token made for this run and print its link (as `make run` does).",
)
def serve(reload: bool, local_console: bool, **flags: object) -> None:
    """Run the call server (hypercorn) with the configured agent.

    The shared secret is read from DIALPLAN_SECRET only, so it never shows in a process list.
    """
    for name, value in flags.items():
        _export(name, value)
    project = _project.project()
    settings = project.settings
    # Check prompts, flows, the call log and the store now: a start that cannot work stops
    # here, every problem on one line of its own (file:line for a broken file).
    problems = project.setup_errors()
    problems += [str(error) for error in _project.routes_errors(project)]
    if settings.database_url:
        try:
            database = Database(settings.database_url)
            try:
                database.check_place()
            finally:
                database.close()
        except RecordsError as exc:
            problems.append(str(exc))
    if settings.require_secret and settings.secret is None:
        problems.append(
            "DIALPLAN_SECRET is not set and DIALPLAN_REQUIRE_SECRET is on (as in the image): "
            "set a long random secret and put it in the platform's URL, or "
            "DIALPLAN_REQUIRE_SECRET=false to take calls from anyone who finds the URL"
        )
    if problems:
        raise OperatorError(problems)
    _check_store(settings)
    # Only when asked: a production server behind a proxy on the same host listens on loopback
    # too, and must never open a console, nor print a token, that nobody chose.
    made_token = local_console and settings.console_token is None and loopback(settings.host)
    if made_token:
        settings = _with_console_token(settings)

    from engine.server import hypercorn_config

    config = hypercorn_config(settings)
    # Bound before saying so: a port in use is one line, not a traceback after "listening".
    sockets = _bound(config, settings)
    click.echo(
        f"dialplan {__version__} listening on {call_url(settings)}"
        + (f" with {settings.workers} workers" if settings.workers > 1 else ""),
        err=True,
    )
    if settings.console_token is not None:
        # A token made for this run opens a console only this machine reaches: its link is
        # the one way in, so it is printed wherever the output goes.
        link = console_link(settings, made_token or sys.stderr.isatty())
        note = "  (a token made for this run)" if made_token else ""
        click.echo(f"console: {link}{note}", err=True)
        if made_token:
            flows = project.flow_names() if project.agent_kind == "flow" else []
            what = f"the flows {', '.join(flows)}" if flows else "the agent"
            click.echo(f'         its "Try a call" page talks to {what}', err=True)
    chat = _chat_command(project)
    if chat is not None:
        click.echo(f"chat:    {chat}  (be the caller in this terminal)", err=True)
    if reload:  # development: hypercorn's reloader (in a child process) binds on its own
        from hypercorn.run import run

        _close(sockets)
        config.application_path = APP_PATH
        config.worker_class = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        config.workers, config.use_reloader = settings.workers, True
        sys.exit(run(config))

    from engine.server.logs import configure
    from engine.server.workers import serve as run_server

    configure(settings.log_level, settings.log_format)  # the supervisor's own lines
    # Each worker drains (turns finish, calls are saved), then hypercorn's graceful stop.
    stop_within = settings.drain_timeout + 2 * settings.store_timeout + config.graceful_timeout + 5
    sys.exit(run_server(config, settings.workers, stop_within, sockets))


def _bound(config: Config, settings: Settings) -> Sockets:
    from engine.server.workers import bind

    try:
        return bind(config)
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        raise OperatorError([f"cannot listen on {where}: {_why_not(exc)}"]) from None


def _why_not(exc: OSError) -> str:
    """Why a socket cannot be bound, and what to do about it, in a few words."""
    if isinstance(exc, socket.gaierror):
        return "no such host (--host)"
    reasons = {
        errno.EADDRINUSE: "the address is in use (is another server running? pick another "
        "with --port)",
        errno.EACCES: "permission denied (ports below 1024 need privileges; pick another "
        "with --port)",
        errno.EADDRNOTAVAIL: "the address is not one of this machine's (--host)",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def _close(sockets: Sockets) -> None:
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets):
        sock.close()


def loopback(host: str) -> bool:
    """Whether ``host`` is reached from this machine only (``127.0.0.1``, ``::1``, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _with_console_token(settings: Settings) -> Settings:
    """``settings`` with a console token made for this run (workers get it too).

    A newcomer's ``make run`` serves this machine only: the console is there to look at
    without setting anything up. Elsewhere a console needs a token someone chose.
    """
    token = secrets.token_urlsafe(18)
    _export("console_token", token)  # worker processes read their settings from the env
    return settings.model_copy(update={"console_token": SecretStr(token)})


def _chat_command(project: Project) -> str | None:
    """How to talk to the default flow in the terminal, as this command was run (or None)."""
    if project.agent_kind != "flow":
        return None
    names = project.flow_names()
    flow = project.default_flow() or (sorted(names)[0] if names else None)
    if flow is None:
        return None
    program = Path(sys.argv[0])
    shown = "dialplan"
    if program.name == "dialplan":
        try:
            shown = str(program.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            shown = "dialplan"  # on the PATH, or elsewhere: its name says enough
    return f"{shlex.quote(shown)} chat {shlex.quote(flow)}"


def call_url(settings: Settings) -> str:
    """The URL the platform's Custom LLM URL names, the secret as a placeholder (never shown)."""
    secret = "/<DIALPLAN_SECRET>" if settings.secret is not None else ""
    return f"ws://{settings.host}:{settings.port}{settings.path_prefix}{secret}/<call_id>"


def console_link(settings: Settings, with_token: bool) -> str:
    """Where the console is; on a terminal, a link that signs the browser in at once.

    Anywhere else (a service's log) the token stays out of the output.
    """
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    link = f"http://{host}:{settings.port}/console"
    token = settings.console_token
    if token is None or not with_token:
        return f"{link}  (sign in with DIALPLAN_CONSOLE_TOKEN)"
    return f"{link}?{urlencode({'token': token.get_secret_value()})}"


def _check_store(settings: Settings) -> None:
    """Warn about a call store that works, but not as one may expect.

    A Redis that is down is only warned about: calls go on from memory while it is away, so a
    server may start before it does. Several workers with the memory store each keep their
    own calls: a call that reconnects to another worker starts afresh.
    """
    url = settings.store
    if url in ("", "memory"):
        if settings.workers > 1:
            click.echo(
                f"warning: {settings.workers} workers with the memory store: a call "
                "that reconnects to another worker starts afresh (share calls with "
                "DIALPLAN_STORE=redis://...)",
                err=True,
            )
        return
    from engine.server.redis_store import redacted

    problem = _ping(url)
    if problem is not None:
        click.echo(f"warning: the call store {redacted(url)} does not answer: {problem}", err=True)


def _ping(url: str) -> str | None:
    """Why Redis at ``url`` does not answer a PING (``None``: it does)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return str(exc)
    return None
